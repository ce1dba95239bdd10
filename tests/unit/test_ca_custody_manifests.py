"""CA key custody in the manifests (a KMS key, verification certificates signed offline),
what `fleet validate`, `fleet expiry`, `fleet iam` and `fleet workflows` make of it: no AWS call."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from devtools.pki import issue, make_ca
from fleet.crypto import keys, pki
from fleet.scaffold import new_fleet
from tests.conftest import Manifests, load_manifests, problems_in

REGIONS = frozenset({"us-east-1", "eu-west-1"})
PROD, STAGING = "111111111111", "222222222222"
DEPLOYER = f"arn:aws:iam::{PROD}:role/fleet-deployer"
KEY = f"arn:aws:kms:eu-west-1:{PROD}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ACCOUNTS = f"""\
accounts:
  prod:
    id: "{PROD}"
    deployer_role_arn: {DEPLOYER}
    regions: [us-east-1, eu-west-1]
"""
NOW = datetime.datetime.now(datetime.UTC)


def fleet_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=cwd, capture_output=True, text=True, check=False)


def with_ca(manifests: Manifests, body: str) -> Manifests:
    manifests.ca("root")
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text("cas.yaml", "cas:\n  root:\n    certificate: pki/root.pem\n" + body)
    return manifests


# --- a KMS key ---------------------------------------------------------------------------


def test_a_kms_key_is_reached_through_the_deployer_role_of_the_account_its_arn_names(manifests: Manifests) -> None:
    with_ca(manifests, f"    private_key: {{kms: '{KEY}'}}\n    placements: [{{account: prod}}]\n")
    fleet = load_manifests(manifests, REGIONS)
    assert {p.private_key for p in fleet.ca_placements} == {keys.KeyRef(kms=KEY, role_arn=DEPLOYER)}
    assert fleet.ca_placements[0].custody_at == "manifests/cas.yaml:4:5: cas.root.private_key"


def test_a_role_beside_the_key_is_used_instead(manifests: Manifests) -> None:
    elsewhere = KEY.replace(PROD, "999999999999")
    role = "arn:aws:iam::999999999999:role/ca-signer"
    fleet = load_manifests(
        with_ca(
            manifests,
            f"    private_key: {{kms: '{elsewhere}', role_arn: '{role}'}}\n    placements: [{{account: prod}}]\n",
        ),
        REGIONS,
    )
    assert fleet.ca_placements[0].private_key == keys.KeyRef(kms=elsewhere, role_arn=role)
    assert fleet.ca_placements[0].private_key.as_dict() == {"kms": elsewhere, "role_arn": role}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            f"{{kms: '{KEY.replace(PROD, '999999999999')}'}}",
            "manifests/cas.yaml:4:24: cas.root.private_key.kms: the key's account 999999999999 is not an account of "
            "the manifests: add it, or name the role fleet uses the key through (role_arn: beside kms)",
        ),
        (
            f"{{kms: 'arn:aws:kms:eu-west-1:{PROD}:alias/factory-ca'}}",
            f"manifests/cas.yaml:4:24: cas.root.private_key.kms: 'arn:aws:kms:eu-west-1:{PROD}:alias/factory-ca' is "
            "not a valid KMS key ARN (arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID; not an alias)",
        ),
        (
            f"{{env: CA_KEY, role_arn: '{DEPLOYER}'}}",
            "manifests/cas.yaml:4:18: cas.root.private_key: role_arn goes with kms (the role fleet uses the KMS key "
            "through)",
        ),
        (
            f"{{kms: '{KEY}', env: CA_KEY}}",
            "manifests/cas.yaml:4:18: cas.root.private_key: give exactly one of kms, env or file",
        ),
    ],
)
def test_a_bad_kms_reference_is_refused_at_its_line(key: str, expected: str, manifests: Manifests) -> None:
    with_ca(manifests, f"    private_key: {key}\n    placements: [{{account: prod}}]\n")
    assert problems_in(manifests, REGIONS) == [expected]


def test_a_kms_key_is_never_read(manifests: Manifests) -> None:
    with pytest.raises(keys.KeyUnavailable, match="it signs in KMS and is never read"):
        keys.load_private_key(keys.KeyRef(kms=KEY, role_arn=DEPLOYER))
    assert not keys.is_available(keys.KeyRef(kms=KEY, role_arn=DEPLOYER))


# --- verification certificates signed offline ---------------------------------------------


def test_offline_verification_certificates_go_to_their_placements(manifests: Manifests) -> None:
    root = manifests.ca("root")
    (manifests.root / "us.pem").write_text(pki.verification_certificate(root.cert, root.key, "a" * 64, NOW))
    with_ca(
        manifests, f"    verification_certificates: {{{PROD}/us-east-1: us.pem}}\n    placements: [{{account: prod}}]\n"
    )
    manifests.cas["root"] = root
    (manifests.root / "pki" / "root.pem").write_text(root.cert_pem)
    placements = {p.region: p for p in load_manifests(manifests, REGIONS).ca_placements}
    assert (
        pki.common_name(pki.load_certificate(str(placements["us-east-1"].verification_certificate).encode()))
        == "a" * 64
    )
    assert placements["us-east-1"].verification_file == "us.pem"
    assert (
        placements["us-east-1"].custody_at == "manifests/cas.yaml:4:57: "
        f"cas.root.verification_certificates.{PROD}/us-east-1"
    )
    assert placements["eu-west-1"].verification_certificate is None and placements["eu-west-1"].private_key is None


def _offline(
    manifests: Manifests, signer: Any, extra: str = "", mode: str = "DEFAULT", place: str = f"{PROD}/us-east-1"
) -> list[str]:
    root = manifests.ca("root")
    (manifests.root / "v.pem").write_text(pki.verification_certificate(root.cert, signer or root.key, "a" * 64, NOW))
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text(
        "cas.yaml",
        f"cas:\n  root:\n    certificate: pki/root.pem\n    mode: {mode}\n{extra}"
        f"    verification_certificates: {{{place}: v.pem}}\n"
        "    placements: [{account: prod}]\n",
    )
    return problems_in(manifests, REGIONS)


def test_an_offline_certificate_not_signed_by_the_ca_is_refused_before_any_call(manifests: Manifests) -> None:
    assert _offline(manifests, make_ca("impostor").key) == [
        f"manifests/cas.yaml:5:57: cas.root.verification_certificates.{PROD}/us-east-1: v.pem is not signed by "
        "CA 'root' (its private key)"
    ]


@pytest.mark.parametrize(
    ("extra", "mode", "place", "expected"),
    [
        (
            "    private_key: {env: CA_KEY}\n",
            "DEFAULT",
            f"{PROD}/us-east-1",
            "manifests/cas.yaml:6:5: cas.root.verification_certificates: only a DEFAULT-mode CA without private_key "
            "takes verification certificates signed offline",
        ),
        (
            "",
            "SNI_ONLY",
            f"{PROD}/us-east-1",
            "manifests/cas.yaml:5:5: cas.root.verification_certificates: only a DEFAULT-mode CA without private_key "
            "takes verification certificates signed offline",
        ),
        (
            "",
            "DEFAULT",
            f"{STAGING}/us-east-1",
            f"manifests/cas.yaml:5:57: cas.root.verification_certificates.{STAGING}/us-east-1: {STAGING}/us-east-1 is "
            "not a placement of CA 'root'",
        ),
        (
            "",
            "DEFAULT",
            "prod/us-east-1",
            "manifests/cas.yaml:5:33: cas.root.verification_certificates.prod/us-east-1: 'prod/us-east-1' is not a "
            "valid place (ACCOUNT_ID/region)",
        ),
    ],
)
def test_offline_certificates_where_none_can_be_used_are_refused(
    extra: str, mode: str, place: str, expected: str, manifests: Manifests
) -> None:
    assert _offline(manifests, None, extra, mode, place) == [expected]


def test_validate_refuses_an_offline_certificate_signed_by_another_key(manifests: Manifests) -> None:
    _offline(manifests, make_ca("impostor").key)
    done = fleet_command("validate", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 1
    assert "v.pem is not signed by CA 'root' (its private key)" in done.stderr


# --- certificates that outlive their CA; expiry --------------------------------------------


def _devices(
    manifests: Manifests,
    ca_days: int,
    device_days: list[int],
    ca_not_before: datetime.datetime | None = None,
    statuses: str = "",
) -> None:
    root = manifests.ca("root", days=ca_days, not_before=ca_not_before)
    for n, days in enumerate(device_days):
        issue(root, f"device-{n}", days=days).write(manifests.root / "devices" / f"device-{n}.pem")
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text(
        "cas.yaml",
        "cas:\n  root:\n    certificate: pki/root.pem\n    mode: SNI_ONLY\n"
        "    placements: [{account: prod, regions: [us-east-1]}]\n",
    )
    manifests.text(
        "devices.yaml", f"device_certificates:\n  line-1:\n    ca: root\n    certificates: devices\n{statuses}"
    )


def test_certificates_that_outlive_their_ca_are_a_warning_not_a_refusal(manifests: Manifests) -> None:
    _devices(manifests, ca_days=100, device_days=[50, 200, 300])
    fleet = load_manifests(manifests, REGIONS)
    assert [str(w) for w in fleet.warnings] == [
        "manifests/devices.yaml:4:19: device_certificates.line-1.certificates: 2 certificate(s) stay valid after CA "
        f"'root' expires on {(NOW + datetime.timedelta(days=99)).date().isoformat()} (for example "
        "devices/device-1.pem); AWS accepts them, but plan the CA's rotation before then (docs/ca-rotation.md)"
    ]
    done = fleet_command("validate", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(
        "warning: manifests/devices.yaml:4:19: device_certificates.line-1.certificates: "
        "2 certificate(s) stay valid after CA 'root' expires on"
    )


def test_expiry_lists_what_expires_within_the_days_and_what_has_expired(manifests: Manifests) -> None:
    _devices(manifests, ca_days=20, device_days=[1, 10, 19])
    (manifests.root / "devices" / "device-0.pem").write_text(
        issue(manifests.cas["root"], "device-0", days=1, not_before=NOW - datetime.timedelta(days=3)).cert_pem
    )
    validate = fleet_command("validate", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert validate.returncode == 1 and "device-0.pem" in validate.stderr and "is expired on" in validate.stderr

    done = fleet_command("expiry", "-m", str(manifests.root), "--days", "15", "--json", cwd=manifests.root.parent)

    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)
    assert [(f["kind"], f["name"], f["expired"], f["days_left"]) for f in found] == [
        ("device", "devices/device-0.pem", True, -3),
        ("device", "devices/device-1.pem", False, 8),
    ]
    assert {(f["account"], f["account_id"], f["region"], f["status"], f["group"], f["ca"]) for f in found} == {
        ("prod", PROD, "us-east-1", "ACTIVE", "line-1", "root")
    }
    table = fleet_command("expiry", "-m", str(manifests.root), cwd=manifests.root.parent)  # 30 days: the CA too
    assert table.returncode == 1
    assert table.stdout.startswith("4 certificate(s) expired or expiring within 30 days")
    assert all(name in table.stdout for name in ("CA root", "device-0.pem", "device-1.pem", "device-2.pem"))


def test_expiry_leaves_out_revoked_certificates_and_exits_0_when_nothing_expires(manifests: Manifests) -> None:
    _devices(
        manifests,
        ca_days=3650,
        device_days=[400, 10],
        statuses="    exceptions:\n"
        "      - certificate: devices/device-1.pem\n        status: REVOKED\n"
        "        revocation: {reason: stolen, date: 2020-01-01}\n",
    )
    from tests.conftest import record_ledger

    record_ledger(manifests)
    done = fleet_command("expiry", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "No CA or device certificate expires within 30 days."
    assert fleet_command("expiry", "-m", str(manifests.root), "--json", cwd=manifests.root.parent).stdout == "[]\n"


# --- what the deployer may do, and what CI is given -----------------------------------------


def test_fleet_iam_grants_the_kms_keys_the_manifests_name_and_no_other(manifests: Manifests) -> None:
    other = KEY.replace("1234abcd", "9999abcd")
    with_ca(manifests, f"    private_key: {{kms: '{KEY}'}}\n    placements: [{{account: prod}}]\n")
    manifests.ca("second")
    manifests.text(
        "more.yaml",
        f"cas:\n  second:\n    certificate: pki/second.pem\n"
        f"    private_key: {{kms: '{other}'}}\n"
        "    placements: [{account: prod, regions: [us-east-1]}]\n",
    )
    deployer = json.loads(fleet_command("iam", "-m", str(manifests.root), cwd=manifests.root.parent).stdout)
    reader = json.loads(fleet_command("iam", "--reader", "-m", str(manifests.root), cwd=manifests.root.parent).stdout)
    assert deployer["Statement"][-1] == {
        "Sid": "SignWithTheCaKeys",
        "Effect": "Allow",
        "Action": ["kms:GetPublicKey", "kms:Sign"],
        "Resource": sorted([KEY, other]),
    }
    assert reader["Statement"][-1] == {
        "Sid": "ReadTheCaKeys",
        "Effect": "Allow",
        "Action": ["kms:GetPublicKey"],
        "Resource": sorted([KEY, other]),
    }
    assert not any(
        "kms" in str(s)
        for s in json.loads(
            fleet_command("iam", "-m", str(manifests.root / "absent"), cwd=manifests.root.parent).stdout
        )["Statement"]
    )


def test_the_apply_job_gets_no_ca_key_secret_when_every_ca_signs_in_kms_or_offline(manifests: Manifests) -> None:
    root = manifests.ca("offline")
    (manifests.root / "v.pem").write_text(pki.verification_certificate(root.cert, root.key, "a" * 64, NOW))
    with_ca(manifests, f"    private_key: {{kms: '{KEY}'}}\n    placements: [{{account: prod}}]\n")
    manifests.text(
        "more.yaml",
        f"cas:\n  offline:\n    certificate: pki/offline.pem\n"
        f"    verification_certificates: {{{PROD}/us-east-1: v.pem}}\n"
        "    placements: [{account: prod, regions: [us-east-1]}]\n",
    )
    fleet = load_manifests(manifests, REGIONS)
    assert new_fleet.key_variables(fleet) == ()
    apply = new_fleet.workflow("main.yml", new_fleet.Ci(ca_key_variables=new_fleet.key_variables(fleet)))
    assert "secrets.PULUMI_CONFIG_PASSPHRASE" in apply
    assert [line for line in apply.splitlines() if "secrets." in line] == [
        "  PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    ]
    assert "a KMS key or verification certificates signed offline need no secret" in apply


# --- the signer cryptography's builder calls ------------------------------------------------


def test_a_remote_key_signs_only_what_kms_signs() -> None:
    held = ec.generate_private_key(ec.SECP384R1())
    remote = pki.remote_key(held.public_key(), lambda data, h: held.sign(data, ec.ECDSA(h)))
    assert isinstance(remote, ec.EllipticCurvePrivateKey)
    assert pki.signature_hash(remote).name == "sha384"  # type: ignore[union-attr]
    for refused in (lambda: remote.exchange(ec.ECDH(), held.public_key()), remote.private_numbers):
        with pytest.raises(TypeError, match="held elsewhere"):
            refused()
    rsa_key = make_ca("x").key
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(65537, 2048)
    remote_rsa = pki.remote_key(other.public_key(), lambda data, h: other.sign(data, padding.PKCS1v15(), h))
    with pytest.raises(TypeError, match="only PKCS#1 v1.5"):
        remote_rsa.sign(b"x", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())  # type: ignore[call-arg]
    assert rsa_key is not None


# --- docs/production.md, "CA keys", as written ------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "production.md"


def _blocks(kind: str) -> list[str]:
    section = DOCS.read_text().split("## 5. CA keys")[1].split("\n## ")[0]
    return [block.split("```", 1)[0].rstrip(" ") for block in section.split(f"```{kind}\n")[1:]]


def test_the_key_policy_example_grants_what_fleet_calls() -> None:
    from fleet.aws import kms

    [example] = [json.loads(_dedent(block)) for block in _blocks("json")]
    by_sid = {s["Sid"]: s for s in example["Statement"]}
    assert set(by_sid["FleetSignsVerificationCertificates"]["Action"]) == kms.ACTIONS
    assert by_sid["FleetSignsVerificationCertificates"]["Principal"]["AWS"].endswith(":role/fleet-deployer")
    assert by_sid["FleetPreviewsReadThePublicKey"]["Action"] == "kms:GetPublicKey"


def test_the_manifest_examples_are_valid_manifests() -> None:
    from ruamel.yaml import YAML

    from fleet.manifest.model import ManifestFile

    examples = _blocks("yaml")
    assert len(examples) == 2
    for block in examples:
        ManifestFile.model_validate(YAML(typ="safe").load(_dedent(block)))


def test_the_ceremony_commands_make_a_verification_certificate_fleet_accepts(tmp_path: Path) -> None:
    """Step 3 of the offline ceremony, run as written (OpenSSL standing in for the HSM)."""
    ca = make_ca("factory")
    (tmp_path / "factory-ca.pem").write_text(ca.cert_pem)
    (tmp_path / "factory-ca.key").write_text(ca.key_pem)
    (tmp_path / "manifests" / "pki").mkdir(parents=True)
    [ceremony] = [b for b in _blocks("") if "openssl req -new" in b]
    code = "0f" * 32
    subprocess.run(
        ["bash", "-euc", _dedent(ceremony)],
        cwd=tmp_path,
        env={"CODE": code, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    made = pki.load_certificate((tmp_path / "manifests/pki/verify-111111111111-us-east-1.pem").read_bytes())
    assert pki.verification_problem(made, ca.cert, code, datetime.datetime.now(datetime.UTC)) is None


def _dedent(block: str) -> str:
    import textwrap

    return textwrap.dedent(block)


def test_the_commands_that_give_a_kms_key_its_ca_certificate_make_one_fleet_accepts(tmp_path: Path) -> None:
    """Step 2 of "AWS KMS", as written after its first line (a local key's public half stands in for
    `aws kms get-public-key`'s answer)."""
    from cryptography.hazmat.primitives import serialization

    root = make_ca("root")
    (tmp_path / "root.pem").write_text(root.cert_pem)
    (tmp_path / "root.key").write_text(root.key_pem)
    held = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "factory-ca.der").write_bytes(
        held.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (tmp_path / "manifests" / "pki").mkdir(parents=True)
    [commands] = [b for b in _blocks("") if "-force_pubkey" in b]
    assert _dedent(commands).startswith("aws kms get-public-key --key-id KEY_ARN ")
    subprocess.run(
        ["bash", "-euc", _dedent(commands).split("\n", 1)[1]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    ca = pki.load_certificate((tmp_path / "manifests/pki/factory-ca.pem").read_bytes())
    assert pki.is_ca(ca) and pki.signed_by(ca, root.cert)
    assert pki.key_matches(ca, held) and ca.subject.rfc4514_string() == "CN=acme factory CA,O=acme"


def test_the_review_knows_which_certificates_of_the_manifests_expire_within_30_days(manifests: Manifests) -> None:
    from fleet.cli.review import _labels

    _devices(manifests, ca_days=20, device_days=[10, 200])
    labels, expiring = _labels(manifests.root)
    soon = pki.certificate_id(pki.load_certificate((manifests.root / "devices/device-0.pem").read_bytes()))
    later = pki.certificate_id(pki.load_certificate((manifests.root / "devices/device-1.pem").read_bytes()))
    ca = pki.certificate_id(manifests.cas["root"].cert)
    assert labels[soon] == "devices/device-0.pem" and later in labels
    assert set(expiring) == {soon, ca}
    assert expiring[soon] == f"expires on {(NOW + datetime.timedelta(days=9)).date().isoformat()}"
