"""`fleet revoke-ca`: the blast radius first, then a reviewed manifest change
that `pulumi up` carries out, including certificates only AWS knew about."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devtools.pki import issue
from fleet.crypto import pki
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices

pytestmark = pytest.mark.engine


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


def revoke_ca(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **fleet.project.extra_env, "COLUMNS": "200"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet",
            "revoke-ca",
            "root",
            "--reason",
            "key stolen",
            "--date",
            "2026-11-23",
            "-m",
            str(fleet.manifests.root),
            *args,
        ],
        cwd=fleet.manifests.root.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_revoke_ca_writes_the_change_and_up_revokes_everything_it_signed(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    stray = issue(fleet.root, "registered-by-hand")
    fleet.iot("prod").register_certificate(
        certificatePem=stray.cert_pem, caCertificatePem=fleet.root.cert_pem, setAsActive=True
    )
    cas_before = (fleet.manifests.root / "cas.yaml").read_text()

    dry = revoke_ca(fleet, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "│ prod    │ us-east-1 │ ACTIVE -> INACTIVE │         3 │       1 │           1 │" in dry.stdout
    assert (fleet.manifests.root / "cas.yaml").read_text() == cas_before  # a dry run writes nothing

    done = revoke_ca(fleet)
    assert done.returncode == 0, done.stderr
    assert done.stdout.index("Blast radius") < done.stdout.index("Wrote")
    cas = (fleet.manifests.root / "cas.yaml").read_text()
    assert "        status: INACTIVE\n        auto_registration: DISABLE\n" in cas
    assert (
        cas.replace(
            "status: INACTIVE\n        auto_registration: DISABLE",
            "status: ACTIVE\n        auto_registration: ENABLE",
            1,
        )
        == cas_before
    )  # only that changed
    # Every certificate it signed goes into the revocation ledger, where each is revoked; the one only
    # AWS knew, with a copy of its PEM (its record can be registered again if it is ever deleted).
    stray_id = pki.certificate_id(stray.cert)
    assert (fleet.manifests.root / "revoked" / f"{stray_id}.pem").read_text() == stray.cert_pem
    ledger = (fleet.manifests.root / "revocations.yaml").read_text()
    assert (
        "    - date: 2026-11-23\n      reason: key stolen\n      ca: root\n      places:\n"
        "        - 111111111111/us-east-1\n      certificates: |\n" in ledger
    )
    assert f"        {stray_id}\n" in ledger
    assert all(f"        {devices.fingerprint(n)}\n" in ledger for n in (0, 1, 3))
    validated = subprocess.run(
        [sys.executable, "-m", "fleet", "validate", "-m", str(fleet.manifests.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert validated.returncode == 0, validated.stderr  # manifests and ledger agree

    fleet.project.up()
    root = fleet.describe("root", "prod")
    assert (root["status"], root["autoRegistrationStatus"]) == ("INACTIVE", "DISABLE")
    for region in ("us-east-1", "eu-west-1"):
        statuses = {
            c["status"]
            for c in fleet.iot("prod", region).list_certificates_by_ca(caCertificateId=fleet.ca_id("root"))[
                "certificates"
            ]
        }
        assert statuses == {"REVOKED"}
    fleet.project.preview("--refresh", "--expect-no-changes")


def test_an_unknown_ca_is_refused_with_a_suggestion(devices: Devices, fleet: Fleet) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet",
            "revoke-ca",
            "rot",
            "--reason",
            "x",
            "--no-aws",
            "-m",
            str(fleet.manifests.root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "unknown CA 'rot' (did you mean 'root'?)" in done.stderr
