"""Who signs a DEFAULT-mode CA's verification certificate (fleet.providers.custody), against the local
endpoint: AWS KMS keys made through moto, signatures checked with cryptography, and the
checks made before any write."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from devtools.endpoint import LocalAws
from devtools.pki import KmsCa, issue, kms_ca, make_ca
from fleet.aws.session import SessionFactory
from fleet.crypto import keys, pki
from fleet.model.survey import survey
from fleet.providers import custody
from fleet.settings import Settings
from tests.conftest import Manifests, client_in, load_manifests

PROD = "111111111111"
DEPLOYER = f"arn:aws:iam::{PROD}:role/fleet-deployer"
REGIONS = frozenset({"us-east-1", "eu-west-1"})
NOW = datetime.datetime.now(datetime.UTC)

ACCOUNTS = f"""\
accounts:
  prod:
    id: "{PROD}"
    deployer_role_arn: {DEPLOYER}
    regions: [us-east-1, eu-west-1]
"""


def kms_in(endpoint: LocalAws, region: str = "us-east-1") -> Any:
    return client_in(endpoint, "kms", PROD, region, role="fleet-deployer")


def ref(ca: KmsCa) -> keys.KeyRef:
    return keys.KeyRef(kms=ca.arn, role_arn=DEPLOYER)


@pytest.mark.parametrize("key_spec", ["ECC_NIST_P256", "ECC_NIST_P384", "RSA_2048", "RSA_3072", "RSA_4096"])
def test_kms_signs_a_verification_certificate_aws_iot_accepts(key_spec: str, local_aws: LocalAws) -> None:
    ca = kms_ca(kms_in(local_aws), make_ca("offline root"), f"{key_spec} CA", key_spec)
    iot = client_in(local_aws, "iot", PROD)
    code = iot.get_registration_code()["registrationCode"]

    signer = custody.kms_signer(ca.cert, ref(ca), SessionFactory(Settings.from_env()))
    verification = pki.load_certificate(pki.verification_certificate(ca.cert, signer, code, NOW).encode())

    public = ca.cert.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(
            verification.signature, verification.tbs_certificate_bytes, ec.ECDSA(verification.signature_hash_algorithm)
        )  # type: ignore[arg-type]
        assert verification.signature_hash_algorithm.name == ("sha384" if key_spec.endswith("384") else "sha256")
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(
            verification.signature,
            verification.tbs_certificate_bytes,
            padding.PKCS1v15(),
            verification.signature_hash_algorithm,
        )  # type: ignore[arg-type]
        assert verification.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert pki.common_name(verification) == code and verification.issuer == ca.cert.subject
    registered = iot.register_ca_certificate(
        caCertificate=ca.cert_pem,
        verificationCertificate=pki.to_pem(verification),
        certificateMode="DEFAULT",
        setAsActive=True,
    )
    assert registered["certificateId"] == pki.certificate_id(ca.cert)
    assert local_aws.calls()["kms:Sign"] == 1


def test_a_kms_key_that_is_not_the_cas_is_refused(local_aws: LocalAws) -> None:
    kms = kms_in(local_aws)
    ca, other = kms_ca(kms, make_ca("root"), "the CA"), kms_ca(kms, make_ca("root"), "another CA")
    problem = custody.kms_problem(ca.cert, ref(other), SessionFactory(Settings.from_env()))
    assert problem == (f"KMS key {other.arn} is not this CA's key (its public key is not the CA certificate's)")
    assert "kms:Sign" not in local_aws.calls()


@pytest.mark.parametrize(
    ("key_spec", "usage", "said"),
    [
        (
            "ECC_NIST_P521",
            "SIGN_VERIFY",
            "is EC secp521r1; fleet signs with EC P-256 or P-384, or RSA 2048, 3072 or 4096",
        ),
        ("ECC_SECG_P256K1", "SIGN_VERIFY", "is EC secp256k1; fleet signs with EC P-256 or P-384"),
        ("RSA_2048", "ENCRYPT_DECRYPT", "is a ENCRYPT_DECRYPT key; the CA's key must be a SIGN_VERIFY key"),
    ],
)
def test_a_kms_key_fleet_does_not_sign_with_is_refused(
    key_spec: str, usage: str, said: str, local_aws: LocalAws
) -> None:
    kms = kms_in(local_aws)
    arn = kms.create_key(KeySpec=key_spec, KeyUsage=usage)["KeyMetadata"]["Arn"]
    problem = custody.kms_problem(
        make_ca("x").cert, keys.KeyRef(kms=arn, role_arn=DEPLOYER), SessionFactory(Settings.from_env())
    )
    assert problem is not None and problem.startswith(f"KMS key {arn} {said}")


def test_a_kms_key_that_cannot_be_reached_is_named(local_aws: LocalAws) -> None:
    arn = f"arn:aws:kms:us-east-1:{PROD}:key/00000000-0000-0000-0000-000000000000"
    problem = custody.kms_problem(
        make_ca("x").cert, keys.KeyRef(kms=arn, role_arn=DEPLOYER), SessionFactory(Settings.from_env())
    )
    assert problem is not None
    assert problem.startswith(
        f"reading the public key of KMS key {arn} as {DEPLOYER}: AWS said NotFoundException to GetPublicKey"
    )


def test_the_key_is_used_in_the_region_its_arn_names(local_aws: LocalAws) -> None:
    ca = kms_ca(kms_in(local_aws, "eu-west-1"), make_ca("root"), "european CA")
    sessions = SessionFactory(Settings.from_env())
    assert custody.kms_problem(ca.cert, ref(ca), sessions) is None
    assert ":eu-west-1:" in ca.arn


def test_the_program_check_names_each_place_still_to_register(manifests: Manifests, local_aws: LocalAws) -> None:
    """What the program refuses before declaring anything: offline certificates for another code, expired,
    or missing; a KMS key out of reach. A registered placement needs nothing."""
    root = make_ca("offline root")
    kms = kms_ca(kms_in(local_aws), root, "kms CA")
    (manifests.root / "pki").mkdir(parents=True, exist_ok=True)
    (manifests.root / "pki" / "kms.pem").write_text(kms.cert_pem)
    offline = manifests.ca("offline")
    iot_us, iot_eu = client_in(local_aws, "iot", PROD), client_in(local_aws, "iot", PROD, "eu-west-1")
    us_code = iot_us.get_registration_code()["registrationCode"]
    eu_code = iot_eu.get_registration_code()["registrationCode"]
    # us-east-1: signed for eu-west-1's code; eu-west-1: signed for its own code, but expired.
    (manifests.root / "pki" / "us.pem").write_text(
        pki.verification_certificate(offline.cert, offline.key, eu_code, NOW)
    )
    (manifests.root / "pki" / "eu.pem").write_text(
        pki.verification_certificate(offline.cert, offline.key, eu_code, NOW - datetime.timedelta(days=3))
    )
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text(
        "cas.yaml",
        f"""\
cas:
  kms:
    certificate: pki/kms.pem
    private_key: {{kms: "{kms.arn.replace(kms.arn.split("/")[-1], "11111111-2222-3333-4444-555555555555")}"}}
    placements: [{{account: prod}}]
  offline:
    certificate: pki/offline.pem
    verification_certificates:
      {PROD}/us-east-1: pki/us.pem
      {PROD}/eu-west-1: pki/eu.pem
    placements: [{{account: prod}}]
""",
    )
    fleet = load_manifests(manifests, REGIONS)
    sessions = SessionFactory(Settings.from_env())

    needs = custody.check(fleet, survey(fleet, sessions), sessions, now=NOW)

    assert [line.split(": ", 1)[1] for line in needs.refusals] == [
        "the verification certificate pki/eu.pem is expired on "
        f"{(NOW - datetime.timedelta(days=2)).strftime('%Y-%m-%d %H:%M')} UTC",
        f"the verification certificate pki/us.pem carries the registration code {eu_code[:12]}…, not this "
        f"account and region's ({us_code[:12]}…: `fleet registration-codes` lists it)",
    ]
    offline_ca = "  CA offline (manifests/cas.yaml:11) in account prod (111111111111), "
    assert all(line.startswith(offline_ca) for line in needs.refusals)
    assert len(needs.missing) == 2 and all("NotFoundException" in m and "11111111-2222" in m for m in needs.missing)
    assert {m.split(": ")[0].split(", ")[-1] for m in needs.missing} == {"us-east-1", "eu-west-1"}

    iot_us.register_ca_certificate(
        caCertificate=offline.cert_pem,
        certificateMode="DEFAULT",
        verificationCertificate=pki.verification_certificate(offline.cert, offline.key, us_code, NOW),
    )
    again = custody.check(fleet, survey(fleet, sessions), sessions, now=NOW)
    assert [line.split(": ", 1)[0].rsplit(", ", 1)[-1] for line in again.refusals] == ["eu-west-1"]
    codes = custody.registration_codes(fleet, survey(fleet, sessions), sessions)
    assert [(c.ca, c.region, c.registration_code) for c in codes] == [
        ("kms", "eu-west-1", eu_code),
        ("offline", "eu-west-1", eu_code),
        ("kms", "us-east-1", us_code),
    ]


def test_an_offline_certificate_for_the_place_passes(manifests: Manifests, local_aws: LocalAws) -> None:
    offline = manifests.ca("offline")
    code = client_in(local_aws, "iot", PROD).get_registration_code()["registrationCode"]
    (manifests.root / "pki" / "us.pem").write_text(pki.verification_certificate(offline.cert, offline.key, code, NOW))
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text(
        "cas.yaml",
        f"""\
cas:
  offline:
    certificate: pki/offline.pem
    verification_certificates: {{{PROD}/us-east-1: pki/us.pem}}
    placements: [{{account: prod, regions: [us-east-1]}}]
""",
    )
    fleet = load_manifests(manifests, REGIONS)
    sessions = SessionFactory(Settings.from_env())
    assert custody.check(fleet, survey(fleet, sessions), sessions, now=NOW) == custody.Needs((), ())


def test_validate_require_keys_asks_kms_about_every_kms_key(manifests: Manifests, local_aws: LocalAws) -> None:
    kms = kms_in(local_aws)
    ca, other = kms_ca(kms, make_ca("root"), "kms CA"), kms_ca(kms, make_ca("root"), "other")
    (manifests.root / "pki").mkdir(parents=True, exist_ok=True)
    (manifests.root / "pki" / "kms.pem").write_text(ca.cert_pem)
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text(
        "cas.yaml",
        f"""\
cas:
  kms:
    certificate: pki/kms.pem
    private_key:
      kms: {other.arn}
    placements: [{{account: prod}}]
""",
    )
    fleet = load_manifests(manifests, REGIONS)
    assert custody.kms_problems(fleet, SessionFactory(Settings.from_env())) == [
        f"manifests/cas.yaml:4:5: cas.kms.private_key: KMS key {other.arn} is not this CA's key (its public key is "
        "not the CA certificate's) (registering CA 'kms' in prod/eu-west-1, prod/us-east-1 needs it)"
    ]


def test_a_device_certificate_under_a_kms_ca_is_issued_by_kms(local_aws: LocalAws) -> None:
    """The KMS key is a CA key like any other: what it signs chains to the CA certificate."""
    ca = kms_ca(kms_in(local_aws), make_ca("root"), "kms CA")
    signer = custody.kms_signer(ca.cert, ref(ca), SessionFactory(Settings.from_env()))
    device = issue(_Holder(ca.cert, signer), "device-1")
    assert pki.signed_by(device.cert, ca.cert)


class _Holder:
    def __init__(self, cert: x509.Certificate, key: Any):
        self.cert, self.key = cert, key
