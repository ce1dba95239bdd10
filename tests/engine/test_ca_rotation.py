"""A CA rotated as docs/ca-rotation.md says, through the real Pulumi CLI and engine on the local
endpoint: the new CA (its key in AWS KMS) registered beside the old one under the same subject,
the devices moved to certificates it issued, the old CA made INACTIVE once AWS has no ACTIVE
certificate under it (each review's blast radius saying how many remain), then retired."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from devtools.pki import Issued, KmsCa, issue, kms_ca, make_ca
from fleet.crypto import pki
from tests.conftest import client_in
from tests.engine.conftest import Fleet

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]
PROD = "111111111111"
SUBJECT = {"common_name": "acme factory CA", "organization": "acme"}

CAS = """\
cas:
  factory-2025:
    certificate: pki/factory-2025.pem
    private_key: {env: FACTORY_2025_KEY}
    placements:
      - account: prod
        regions: [us-east-1]
        status: ACTIVE
"""
NEW_CA = """\
  factory-2026:
    certificate: pki/factory-2026.pem
    private_key: {kms: "%s"}
    placements:
      - account: prod
        regions: [us-east-1]
"""
DEVICES = """\
device_certificates:
  line-1:
    ca: factory-2025
    certificates: devices-2025
    status: ACTIVE
"""
MOVED = """\
  line-1-2026:
    ca: factory-2026
    certificates: devices-2026
"""


def kms_issued(kms: Any, ca: KmsCa, common_name: str) -> Issued:
    """A device certificate the KMS-held CA key signs (as the factory's issuing service would)."""
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=ca.arn)["PublicKey"])
    signer = pki.remote_key(
        public, lambda data, _: kms.sign(KeyId=ca.arn, Message=data, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    )
    return issue(Issued(ca.cert, signer), common_name)  # type: ignore[arg-type]


def review(fleet: Fleet) -> str:
    """A pull request's preview and its `fleet review` comment (with ACTIVE certificates counted in AWS)."""
    plan = fleet.project.run("preview", "--json")
    (fleet.project.workdir / "plan.json").write_text(plan.stdout)
    done = subprocess.run(
        [
            str(REPO / "scripts" / "fleet.sh"),
            "review",
            str(fleet.project.workdir / "plan.json"),
            "-m",
            str(fleet.manifests.root),
        ],
        env=fleet.project.env(),
        cwd=fleet.project.workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def active_under(fleet: Fleet, ca: Any) -> list[str]:
    listed = fleet.iot("prod").list_certificates_by_ca(caCertificateId=pki.certificate_id(ca), pageSize=250)
    return sorted(c["certificateId"] for c in listed["certificates"] if c["status"] == "ACTIVE")


def test_a_ca_is_rotated_beside_the_old_one_and_the_old_one_retired(fleet: Fleet) -> None:
    pki_dir = fleet.manifests.root / "pki"
    old = make_ca(**SUBJECT)
    old.write(pki_dir / "factory-2025.pem")
    fleet.project.extra_env["FACTORY_2025_KEY"] = old.key_pem
    for n in range(3):
        issue(old, f"device-{n}").write(fleet.manifests.root / "devices-2025" / f"device-{n}.pem")
    fleet.manifests.text("cas.yaml", CAS)
    fleet.manifests.text("devices.yaml", DEVICES)
    fleet.project.up()
    assert len(active_under(fleet, old.cert)) == 3

    # 1. The new CA beside the old one: the same subject (AWS allows 10 per account and region), its key in KMS.
    kms = client_in(fleet.aws, "kms", PROD)
    new = kms_ca(kms, make_ca("acme offline root"), **SUBJECT, key_spec="ECC_NIST_P256")
    assert new.cert.subject == old.cert.subject
    (pki_dir / "factory-2026.pem").write_text(new.cert_pem)
    fleet.manifests.text("cas.yaml", CAS + NEW_CA % new.arn)
    fleet.project.up()
    listed = fleet.iot("prod").list_ca_certificates()["certificates"]
    assert {c["certificateId"] for c in listed} == {pki.certificate_id(old.cert), pki.certificate_id(new.cert)}
    assert fleet.aws.calls()["kms:Sign"] == 1  # its verification certificate

    # 2. The devices move: each gets a certificate the new CA issued, in a group under it.
    for n in range(3):
        kms_issued(kms, new, f"device-{n}").write(fleet.manifests.root / "devices-2026" / f"device-{n}.pem")
    fleet.manifests.text("devices.yaml", DEVICES + MOVED)
    fleet.project.up()
    assert len(active_under(fleet, new.cert)) == 3 and len(active_under(fleet, old.cert)) == 3

    # 3. Deactivating the old CA too soon: the review says how many ACTIVE certificates remain under it.
    fleet.edit("        status: ACTIVE\n", "        status: INACTIVE\n")
    assert (
        "Deactivating CA `factory-2025` in prod/us-east-1 stops new registrations only: **3 ACTIVE "
        "certificates** it signed keep working until each is revoked" in review(fleet)
    )
    fleet.edit("        status: INACTIVE\n", "        status: ACTIVE\n")

    # 4. Once the old certificates are out of use, AWS has no ACTIVE certificate under the old CA: then it goes.
    fleet.edit("    status: ACTIVE\n", "    status: INACTIVE\n", filename="devices.yaml")
    fleet.project.up()
    assert active_under(fleet, old.cert) == []
    fleet.edit("        status: ACTIVE\n", "        status: INACTIVE\n")
    assert (
        "Deactivating CA `factory-2025` in prod/us-east-1 stops new registrations only: **0 ACTIVE "
        "certificates** it signed keep working" in review(fleet)
    )
    fleet.project.up()
    old_ca = fleet.iot("prod").describe_ca_certificate(certificateId=pki.certificate_id(old.cert))
    assert old_ca["certificateDescription"]["status"] == "INACTIVE"

    # 5. Retired: the old group and the old CA leave the manifests (certificates deregistered first).
    fleet.manifests.text("devices.yaml", "device_certificates:\n" + MOVED)
    fleet.manifests.text("cas.yaml", "cas:\n" + NEW_CA % new.arn)
    del fleet.project.extra_env["FACTORY_2025_KEY"]
    fleet.project.up()
    listed = fleet.iot("prod").list_ca_certificates()["certificates"]
    assert [c["certificateId"] for c in listed] == [pki.certificate_id(new.cert)]
    assert len(active_under(fleet, new.cert)) == 3
    assert fleet.aws.calls()["kms:Sign"] == 4  # its registration, and the three device certificates it issued
    fleet.project.preview("--refresh", "--expect-no-changes")
    expiry = subprocess.run(
        [str(REPO / "scripts" / "fleet.sh"), "expiry", "-m", str(fleet.manifests.root)],
        env=fleet.project.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert expiry.returncode == 0 and "No CA or device certificate expires within 30 days." in expiry.stdout
    assert datetime.datetime.now(datetime.UTC) < new.cert.not_valid_after_utc
