"""CA keys that never leave their vault, through the real Pulumi CLI and engine on the local
endpoint: DEFAULT-mode CAs registered with verification certificates signed by AWS KMS (EC and
RSA keys made through moto) or offline, and every refusal made before any write."""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devtools.pki import KmsCa, kms_ca, make_ca
from devtools.pulumi_cli import ENGINE
from fleet.crypto import pki
from tests.conftest import client_in
from tests.engine.conftest import Fleet

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]
PROD = "111111111111"
STAGING = "222222222222"


def fleet_cli(fleet: Fleet, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """`fleet ...` as CI runs it (scripts/fleet.sh), on the test's manifests and endpoint."""
    done = subprocess.run(
        [str(REPO / "scripts" / "fleet.sh"), *args, "-m", str(fleet.manifests.root)],
        env=fleet.project.env(),
        cwd=fleet.project.workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in ok, f"fleet {args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def kms_cas(fleet: Fleet, *specs: tuple[str, str, str]) -> dict[str, KmsCa]:
    """(name, key spec, region of the key) -> a CA whose key is a new KMS key in prod, written to pki/NAME.pem."""
    root = make_ca("offline root")
    made = {}
    for name, key_spec, region in specs:
        made[name] = kms_ca(client_in(fleet.aws, "kms", PROD, region), root, f"{name} CA", key_spec)
        (fleet.manifests.root / "pki" / f"{name}.pem").write_text(made[name].cert_pem)
    return made


def describe(fleet: Fleet, certificate: Any, region: str) -> dict[str, Any]:
    reply = fleet.iot("prod", region).describe_ca_certificate(certificateId=pki.certificate_id(certificate))
    return dict(reply["certificateDescription"])


def test_kms_keys_sign_the_verification_certificates_of_ec_and_rsa_cas(fleet: Fleet) -> None:
    cas = kms_cas(fleet, ("ec", "ECC_NIST_P384", "us-east-1"), ("rsa", "RSA_2048", "eu-west-1"))
    fleet.manifests.text(
        "cas.yaml",
        f"""\
cas:
  ec:
    certificate: pki/ec.pem
    private_key: {{kms: "{cas["ec"].arn}"}}
    placements: [{{account: prod}}]
  rsa:
    certificate: pki/rsa.pem
    private_key:
      kms: {cas["rsa"].arn}
    placements: [{{account: prod, status: INACTIVE}}]
""",
    )
    assert "valid: 2 accounts, 2 CAs in 4 placements" in fleet_cli(fleet, "validate", "--require-keys").stdout

    fleet.project.up()

    for region in ("us-east-1", "eu-west-1"):
        ec, rsa = describe(fleet, cas["ec"].cert, region), describe(fleet, cas["rsa"].cert, region)
        assert (ec["certificateMode"], ec["status"], rsa["certificateMode"], rsa["status"]) == (
            "DEFAULT",
            "ACTIVE",
            "DEFAULT",
            "INACTIVE",
        )
    calls = fleet.aws.calls()
    assert calls["kms:Sign"] == 4 and calls["iot:RegisterCACertificate"] == 4  # one signature per registration
    state = fleet.project.state_text()
    assert cas["ec"].arn in state and "PRIVATE KEY" not in state and "verification_certificate" not in state
    assert fleet.aws.writes() == {"iot:RegisterCACertificate": 4}
    fleet.project.preview("--refresh", "--expect-no-changes")
    fleet.project.up()
    assert fleet.aws.calls()["kms:Sign"] == 4  # registered: nothing more to sign


def test_a_kms_key_that_cannot_be_reached_stops_the_run_naming_it_and_the_place(fleet: Fleet) -> None:
    real = kms_cas(fleet, ("ec", "ECC_NIST_P256", "us-east-1"))["ec"]
    gone = real.arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    fleet.manifests.text(
        "cas.yaml",
        f"""\
cas:
  ec:
    certificate: pki/ec.pem
    private_key: {{kms: "{gone}"}}
    placements: [{{account: prod, regions: [us-east-1]}}]
""",
    )
    validate = fleet_cli(fleet, "validate", "--require-keys", ok=(1,))
    assert validate.stderr.startswith(
        "1 KMS key cannot sign the verification certificates the apply may need; "
        "nothing was changed:\n  manifests/cas.yaml:4:5: cas.ec.private_key: reading "
        f"the public key of KMS key {gone} as arn:aws:iam::{PROD}:role/fleet-deployer: "
        "AWS said NotFoundException to GetPublicKey"
    ), validate.stderr
    assert "registering CA 'ec' in prod/us-east-1 needs it" in validate.stderr

    preview = fleet.project.preview()  # a pull request's preview: said, not refused
    assert (
        f"the apply will need a CA private key:   CA ec (manifests/cas.yaml:5) in account prod ({PROD}), "
        f"us-east-1: reading the public key of KMS key {gone}" in preview.output.replace("\n", " ")
    )
    up = fleet.project.up(ok=(ENGINE.failed,))
    assert (
        "refusing to run; nothing was changed: registering these CAs in DEFAULT mode needs their private keys:"
        in up.output
    )
    assert (
        f"CA ec (manifests/cas.yaml:5) in account prod ({PROD}), us-east-1: reading the public key of KMS key "
        f"{gone}" in up.output
    )
    assert fleet.aws.writes() == {} and "kms:Sign" not in fleet.aws.calls()


def test_a_kms_key_that_is_not_the_cas_is_refused_before_any_write(fleet: Fleet) -> None:
    cas = kms_cas(fleet, ("ec", "ECC_NIST_P256", "us-east-1"), ("other", "ECC_NIST_P256", "us-east-1"))
    fleet.manifests.text(
        "cas.yaml",
        f"""\
cas:
  ec:
    certificate: pki/ec.pem
    private_key: {{kms: "{cas["other"].arn}"}}
    placements: [{{account: prod, regions: [us-east-1]}}]
""",
    )
    up = fleet.project.up(ok=(ENGINE.failed,))
    assert f"KMS key {cas['other'].arn} is not this CA's key" in up.output
    assert fleet.aws.writes() == {} and "kms:Sign" not in fleet.aws.calls()


def offline_fleet(fleet: Fleet, signed: dict[str, str]) -> None:
    """The root CA without a key reference: each region's verification certificate, signed by the
    test (the operators, at their ceremony) for the code given, in manifests/pki/verify-REGION.pem."""
    for region, code in signed.items():
        (fleet.manifests.root / "pki" / f"verify-{region}.pem").write_text(
            pki.verification_certificate(fleet.root.cert, fleet.root.key, code, datetime.datetime.now(datetime.UTC))
        )
    lines = "".join(f"      {PROD}/{region}: pki/verify-{region}.pem\n" for region in signed)
    fleet.manifests.text(
        "cas.yaml",
        f"""\
cas:
  root:
    certificate: pki/root.pem
    verification_certificates:
{lines}    placements: [{{account: prod}}]
""",
    )


def test_the_offline_ceremony_registers_the_ca_with_certificates_signed_for_the_listed_codes(fleet: Fleet) -> None:
    offline_fleet(fleet, {})
    fleet.manifests.text(
        "cas.yaml",
        fleet.manifests.root.joinpath("cas.yaml")
        .read_text()
        .replace("    verification_certificates:\n", "    verification_certificates: {}\n"),
    )
    listed = json.loads(fleet_cli(fleet, "registration-codes", "--json").stdout)
    codes = {entry["region"]: entry["registration_code"] for entry in listed}
    assert [(e["account_id"], e["region"], e["ca"]) for e in listed] == [
        (PROD, "eu-west-1", "root"),
        (PROD, "us-east-1", "root"),
    ]
    assert codes["us-east-1"] == fleet.iot("prod").get_registration_code()["registrationCode"]
    assert fleet.aws.writes() == {}

    offline_fleet(fleet, codes)  # what the operators bring back from the ceremony
    fleet.project.up()

    for region in ("us-east-1", "eu-west-1"):
        assert describe(fleet, fleet.root.cert, region)["certificateMode"] == "DEFAULT"
    assert "ROOT_CA_KEY" not in fleet.project.state_text()
    fleet.project.preview("--refresh", "--expect-no-changes")
    assert json.loads(fleet_cli(fleet, "registration-codes", "--json").stdout) == []


@pytest.mark.parametrize("wrong", ["another code", "not signed by the CA"])
def test_a_wrong_offline_certificate_is_refused_before_any_write(wrong: str, fleet: Fleet) -> None:
    us = fleet.iot("prod").get_registration_code()["registrationCode"]
    staging = fleet.iot("staging").get_registration_code()["registrationCode"]
    offline_fleet(fleet, {"us-east-1": staging if wrong == "another code" else us, "eu-west-1": us})
    if wrong == "not signed by the CA":
        impostor = make_ca("impostor")
        # Signed with another key but naming the CA as its issuer: only the signature tells.
        forged = pki.verification_certificate(fleet.root.cert, impostor.key, us, datetime.datetime.now(datetime.UTC))
        (fleet.manifests.root / "pki" / "verify-us-east-1.pem").write_text(forged)

    up = fleet.project.up(ok=(ENGINE.failed,))

    if wrong == "another code":
        assert (
            "refusing to run; nothing was changed: registering these CAs in DEFAULT mode needs a verification "
            "certificate signed for the place:" in up.output
        )
        assert (
            f"CA root (manifests/cas.yaml:7) in account prod ({PROD}), us-east-1: the verification certificate "
            f"pki/verify-us-east-1.pem carries the registration code {staging[:12]}…, not this account and "
            f"region's ({us[:12]}…" in up.output
        )
        # eu-west-1's certificate carries us-east-1's code: refused as well, in the same message.
        assert (
            f"in account prod ({PROD}), eu-west-1: the verification certificate pki/verify-eu-west-1.pem "
            "carries the registration code" in up.output
        )
    else:
        assert (
            f"manifests/cas.yaml:5:31: cas.root.verification_certificates.{PROD}/us-east-1: "
            "pki/verify-us-east-1.pem is not signed by CA 'root' (its private key)" in up.output
        )
    assert fleet.aws.writes() == {}
