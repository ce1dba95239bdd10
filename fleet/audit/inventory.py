"""What the checks look at, whichever side it comes from: the manifests
(fleet.audit.from_manifests) or what AWS holds (fleet.audit.aws_state).

Device certificates are kept as the few facts the checks need, read once
while the manifests load (a fleet holds 10^5 of them), never as parsed
certificates.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fleet.audit.findings import Location, Place
from fleet.aws.status import CertificateStatus

# a certificate that is, or may become, a working identity
USABLE = (CertificateStatus.ACTIVE, CertificateStatus.INACTIVE)


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What the checks need of one certificate."""

    not_before: datetime.datetime
    not_after: datetime.datetime
    key_sha256: str  # SHA-256 of the DER SubjectPublicKeyInfo: the key, whatever certificate carries it
    rsa_modulus: int | None  # RSA keys only (the ROCA test)
    rsa_exponent: int | None
    issuer: bytes  # DER (cheaper than a string per certificate, at 10^5 of them)
    serial: int

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateFacts:
        key = cert.public_key()
        spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        numbers = key.public_numbers() if isinstance(key, rsa.RSAPublicKey) else None
        return cls(
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
            hashlib.sha256(spki).hexdigest(),
            numbers.n if numbers else None,
            numbers.e if numbers else None,
            cert.issuer.public_bytes(),
            cert.serial_number,
        )


@dataclass(frozen=True)
class CaRecord:
    name: str  # the manifests' name, or AWS's certificate id
    certificate: x509.Certificate
    active_in: tuple[Place, ...]  # where it is ACTIVE (the expiry and key checks apply there)
    location: Location
    crl: x509.CertificateRevocationList | None = None  # the CA's revocation list, when the manifests name one
    crl_location: Location | None = None


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    fingerprint: str
    label: str  # its PEM file (relative to the manifests), or AWS's certificate id
    status: str
    places: tuple[Place, ...]
    location: Location  # the line that sets its status
    ca: str | None = None  # the CA record that signed it
    group: str | None = None
    facts: CertificateFacts | None = None  # None: not known (a certificate only AWS has, not described)

    @property
    def resource(self) -> str:
        return f"certificate:{self.label}"


@dataclass(frozen=True)
class PolicyRecord:
    name: str
    document: Any  # parsed JSON
    places: tuple[Place, ...]  # where this very document is the policy's (default) version
    location: Location  # the document file, or the manifest line that names it
    statement_lines: tuple[int, ...] = ()  # line of each statement in the document file, when known


@dataclass(frozen=True)
class RevokedKey:
    """A key the revocation ledger says leaked: the key of a certificate it revoked."""

    fingerprint: str  # the revoked certificate
    date: str
    location: Location  # its ledger entry


@dataclass(frozen=True)
class Inventory:
    cas: tuple[CaRecord, ...] = ()
    certificates: tuple[DeviceRecord, ...] = ()
    policies: tuple[PolicyRecord, ...] = ()
    revoked_keys: dict[str, RevokedKey] = field(default_factory=dict)  # key_sha256 -> the revocation
