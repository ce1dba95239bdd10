"""Who signs a DEFAULT-mode CA's verification certificate, checked before
anything is written.

AWS IoT registers a CA in DEFAULT mode only with a verification certificate
whose Common Name is the account and region's registration code, signed by
the CA's key (fleet.crypto.pki). Per CA, the manifests say who signs:

- ``private_key: {kms: ARN}`` (recommended): AWS KMS signs, and the key never
  leaves it. fleet reaches the key through the deployer role of the account
  the ARN names, or the ``role_arn`` beside it. GetPublicKey must give the CA
  certificate's own key, of a kind fleet signs with: EC P-256 or P-384
  (ECDSA with SHA-256 or SHA-384) or RSA 2048, 3072 or 4096 (PKCS#1 v1.5
  with SHA-256).
- ``verification_certificates: {ACCOUNT_ID/REGION: FILE}``: signed offline (an
  HSM, an air-gapped root) for the codes `fleet registration-codes` lists;
  where one is used it must carry that place's code and be within its dates
  (that the CA signed it, `fleet validate` checks).
- ``private_key: {env: NAME}`` or ``{file: PATH}``: a key fleet reads, the fallback.

``check`` runs in the program for every placement still to register, before
any resource is declared; `fleet validate --require-keys` asks KMS about
every KMS key (``kms_problems``).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fleet.aws.ca import CaCertificates
from fleet.aws.errors import AwsError
from fleet.aws.kms import KmsKey, PublicKey
from fleet.aws.session import SessionFactory
from fleet.crypto import keys, pki
from fleet.manifest.desired import CaPlacementSpec, Fleet
from fleet.model.survey import Place, Survey

# The KMS keys fleet signs with, and how: (kind, curve or size) -> KMS's signing algorithm.
# https://docs.aws.amazon.com/kms/latest/developerguide/asymmetric-key-specs.html
KMS_SIGNING = {
    ("EC", "secp256r1"): "ECDSA_SHA_256",
    ("EC", "secp384r1"): "ECDSA_SHA_384",
    ("RSA", "2048"): "RSASSA_PKCS1_V1_5_SHA_256",
    ("RSA", "3072"): "RSASSA_PKCS1_V1_5_SHA_256",
    ("RSA", "4096"): "RSASSA_PKCS1_V1_5_SHA_256",
}
SUPPORTED = "EC P-256 or P-384, or RSA 2048, 3072 or 4096"


class CustodyError(Exception):
    """A CA's key cannot sign its verification certificate."""


@dataclass(frozen=True)
class Needs:
    """What stands between the placements to register and their verification certificates."""

    refusals: tuple[str, ...]  # wrong whoever runs it: an offline certificate missing, for another code, expired
    missing: tuple[str, ...]  # a key this run cannot use (unreadable, not the CA's, KMS out of reach)


@dataclass(frozen=True)
class Code:
    """A registration code a DEFAULT-mode CA still to be registered needs signed."""

    ca: str
    account: str
    account_id: str
    region: str
    registration_code: str


def to_register(
    fleet: Fleet, seen: Survey, places: frozenset[tuple[str, str]] | None = None
) -> Iterator[tuple[CaPlacementSpec, Place]]:
    """The DEFAULT-mode placements AWS does not have yet (``places``: only those)."""
    for spec in fleet.ca_placements:
        place = seen.place(spec.account_id, spec.region)
        if spec.mode != "DEFAULT" or place is None or place.cas.get(spec.certificate_id) is not None:
            continue
        if places is None or (spec.account_id, spec.region) in places:
            yield spec, place


def check(
    fleet: Fleet,
    seen: Survey,
    sessions: SessionFactory,
    places: frozenset[tuple[str, str]] | None = None,
    now: datetime.datetime | None = None,
) -> Needs:
    """Every placement still to register, with its signer. AwsError when a registration code cannot be read."""
    now = now or datetime.datetime.now(datetime.UTC)
    refusals: list[str] = []
    missing: list[str] = []
    codes: dict[tuple[str, str], str] = {}
    asked: dict[tuple[str, str, str], str | None] = {}  # (ARN, role, CA id) -> what KMS made of it
    for spec, place in to_register(fleet, seen, places):
        name = f"  CA {spec.ca} ({spec.source}) in {place.where}"
        ca = pki.load_certificate(spec.certificate_pem.encode())
        ref = spec.private_key
        if ref is None:
            if spec.verification_certificate is None:
                refusals.append(
                    f"{name}: no verification certificate for {spec.account_id}/{spec.region} "
                    "(verification_certificates:); `fleet registration-codes` lists the code to sign"
                )
                continue
            where = (spec.account_id, spec.region)
            if where not in codes:
                codes[where] = registration_code(place, sessions)
            verification = pki.load_certificate(spec.verification_certificate.encode())
            problem = pki.verification_problem(verification, ca, codes[where], now)
            if problem:
                refusals.append(f"{name}: the verification certificate {spec.verification_file} {problem}")
        elif ref.kms:
            asked_key = (ref.kms, str(ref.role_arn), spec.certificate_id)
            if asked_key not in asked:
                asked[asked_key] = kms_problem(ca, ref, sessions)
            if asked[asked_key]:
                missing.append(f"{name}: {asked[asked_key]}")
        else:
            problem = _local_problem(ca, ref)
            if problem:
                missing.append(f"{name}: {problem}")
    return Needs(tuple(sorted(set(refusals))), tuple(sorted(set(missing))))


def _local_problem(ca: x509.Certificate, ref: keys.KeyRef) -> str | None:
    try:
        key = keys.load_private_key(ref)
    except keys.KeyUnavailable as error:
        return str(error)
    if not pki.key_matches(ca, key):
        return f"the key in {ref.describe()} is not this CA's private key"
    return None


def registration_code(place: Place, sessions: SessionFactory) -> str:
    iot = sessions.client("iot", place.account.role_arn, place.account.id, place.region)
    return CaCertificates(iot, place.where).registration_code()


def registration_codes(fleet: Fleet, seen: Survey, sessions: SessionFactory) -> list[Code]:
    """One per DEFAULT-mode placement AWS does not have yet, with its place's code (read-only calls)."""
    codes: dict[tuple[str, str], str] = {}
    found = []
    for spec, place in to_register(fleet, seen):
        where = (spec.account_id, spec.region)
        if where not in codes:
            codes[where] = registration_code(place, sessions)
        found.append(Code(spec.ca, spec.account, spec.account_id, spec.region, codes[where]))
    return sorted(found, key=lambda c: (c.account_id, c.region, c.ca))


def kms_problems(fleet: Fleet, sessions: SessionFactory) -> list[str]:
    """For `fleet validate --require-keys`: each KMS key a DEFAULT-mode CA names that cannot sign its
    verification certificates, at the manifest line that names it, with the places that need it."""
    needing: dict[tuple[str, str, str], list[CaPlacementSpec]] = defaultdict(list)
    for spec in fleet.ca_placements:
        if spec.mode == "DEFAULT" and spec.private_key is not None and spec.private_key.kms:
            needing[(spec.private_key.kms, str(spec.private_key.role_arn), spec.ca)].append(spec)
    problems = []
    for specs in needing.values():
        first = specs[0]
        assert first.private_key is not None
        problem = kms_problem(pki.load_certificate(first.certificate_pem.encode()), first.private_key, sessions)
        if problem:
            places = ", ".join(f"{s.account}/{s.region}" for s in specs)
            problems.append(f"{first.custody_at}: {problem} (registering CA {first.ca!r} in {places} needs it)")
    return sorted(problems)


def kms_problem(ca: x509.Certificate, ref: keys.KeyRef, sessions: SessionFactory) -> str | None:
    """Why the KMS key cannot sign ``ca``'s verification certificates, or None."""
    try:
        kms_signer(ca, ref, sessions)
    except CustodyError as error:
        return str(error)
    return None


def kms_signer(ca: x509.Certificate, ref: keys.KeyRef, sessions: SessionFactory) -> pki.SigningKey:
    """The CA's key, held in KMS, as a key cryptography's builders sign with (KMS makes each
    signature), once GetPublicKey showed it is the CA certificate's key; CustodyError naming
    the key otherwise."""
    role = str(ref.role_arn)
    arn = str(ref.kms)
    try:
        kms = KmsKey(sessions.client("kms", role, role.split(":")[4], arn.split(":")[3]), arn, f"as {role}")
        public = kms.public_key()
    except AwsError as error:
        raise CustodyError(str(error) if arn in str(error) else f"cannot reach KMS key {arn}: {error}") from None
    public_key, algorithm = _signing(arn, public, ca)

    def sign(data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes:
        if not algorithm.endswith(hash_algorithm.name[-3:]):
            raise TypeError(f"KMS key {arn} signs with {algorithm}, not {hash_algorithm.name}")
        digest = hashes.Hash(hash_algorithm)
        digest.update(data)
        return kms.sign_digest(digest.finalize(), algorithm)

    return pki.remote_key(public_key, sign)


def _signing(
    arn: str, public: PublicKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePublicKey | rsa.RSAPublicKey, str]:
    """The key's public half and KMS's signing algorithm for it; CustodyError when it cannot sign for ``ca``."""
    if public.usage != "SIGN_VERIFY":
        raise CustodyError(
            f"KMS key {arn} is a {public.usage or 'non-signing'} key; the CA's key must be a SIGN_VERIFY key"
        )
    try:
        key = serialization.load_der_public_key(public.der)
    except (ValueError, UnsupportedAlgorithm):
        raise CustodyError(f"KMS key {arn}: GetPublicKey gave a public key fleet cannot read") from None
    kind = (
        ("EC", key.curve.name)
        if isinstance(key, ec.EllipticCurvePublicKey)
        else ("RSA", str(key.key_size))
        if isinstance(key, rsa.RSAPublicKey)
        else ("other", "")
    )
    algorithm = KMS_SIGNING.get(kind)
    if algorithm is None or not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise CustodyError(f"KMS key {arn} is {' '.join(kind).strip()}; fleet signs with {SUPPORTED}")
    if algorithm not in public.algorithms:
        raise CustodyError(f"KMS key {arn} does not allow {algorithm}")
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if ca.public_key().public_bytes(*spki) != key.public_bytes(*spki):
        raise CustodyError(f"KMS key {arn} is not this CA's key (its public key is not the CA certificate's)")
    return key, algorithm
