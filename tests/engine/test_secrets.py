"""The CA private key never reaches Pulumi state, plans, logs or output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.pulumi_cli import ENGINE
from tests.engine.conftest import Fleet

pytestmark = pytest.mark.engine


def key_material(pem: str) -> list[str]:
    """The base64 lines of a PEM key: any one of them showing is a leak."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_the_ca_private_key_is_nowhere_in_state_or_output(fleet: Fleet, tmp_path: Path) -> None:
    fleet.project.up()
    fleet.project.preview("--refresh", "--diff")
    fleet.edit("status: ACTIVE", "status: INACTIVE")
    fleet.project.up("--refresh")
    fleet.project.run("stack", "export", "--show-secrets")
    fleet.iot("prod", "eu-west-1").update_ca_certificate(certificateId=fleet.ca_id("root"), newStatus="ACTIVE")
    fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    fleet.project.run("destroy", "--yes", "--skip-preview")

    written = [
        p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and "manifests" not in p.parts
    ]  # the state, its backups and history, Pulumi's own files
    printed = [result.output for result in fleet.project.history]
    assert len(printed) >= 7 and any("root.prod.us-east-1" in text for text in printed)
    for line in key_material(fleet.root.key_pem):
        for text in written + printed:
            assert line not in text
    # The reference, not the key, is what the state keeps (pretty-printed by pulumi 3.79, compact since).
    assert any(re.search(r'"env":\s*"ROOT_CA_KEY"', text) for text in written)


def test_no_ca_key_reaches_fleet_when_kms_and_an_offline_ceremony_sign(fleet: Fleet, tmp_path: Path) -> None:
    """The new ways hold no key at all: the KMS key stays in KMS, and the offline root's key stays
    with its operators (here, the test); the project runs without any key in its environment."""
    import datetime

    from devtools.pki import kms_ca, make_ca
    from fleet.crypto import pki
    from tests.conftest import client_in

    del fleet.project.extra_env["ROOT_CA_KEY"]
    offline_root = fleet.root  # its key signs the verification certificates, outside fleet
    signer = kms_ca(client_in(fleet.aws, "kms", "111111111111"), make_ca("issuing root"), "kms CA", "ECC_NIST_P256")
    (fleet.manifests.root / "pki" / "kms.pem").write_text(signer.cert_pem)
    now = datetime.datetime.now(datetime.UTC)
    for region in ("us-east-1", "eu-west-1"):
        code = fleet.iot("prod", region).get_registration_code()["registrationCode"]
        (fleet.manifests.root / f"verify-{region}.pem").write_text(
            pki.verification_certificate(offline_root.cert, offline_root.key, code, now)
        )
    fleet.manifests.text(
        "cas.yaml",
        f"""\
cas:
  root:
    certificate: pki/root.pem
    verification_certificates:
      111111111111/us-east-1: verify-us-east-1.pem
      111111111111/eu-west-1: verify-eu-west-1.pem
    placements: [{{account: prod}}]
  signer:
    certificate: pki/kms.pem
    private_key: {{kms: "{signer.arn}"}}
    placements: [{{account: staging}}]
""",
    )
    fleet.project.up()
    fleet.project.preview("--refresh", "--diff", "--expect-no-changes")
    fleet.project.run("stack", "export", "--show-secrets")
    fleet.project.run("destroy", "--yes", "--skip-preview")

    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and "manifests" not in p.parts]
    printed = [result.output for result in fleet.project.history]
    assert any("signer.staging.us-east-1" in text for text in printed)
    assert fleet.aws.calls()["kms:Sign"] == 1
    for text in written + printed:
        assert "PRIVATE KEY" not in text
        for line in key_material(offline_root.key_pem):
            assert line not in text
    assert any(re.search(rf'"kms":\s*"{re.escape(signer.arn)}"', text) for text in written)
