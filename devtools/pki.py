"""Make test and demo PKI: CA certificates, their keys, device certificates."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def write(self, cert_path: Path, key_path: Path | None = None) -> None:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        cert_path.write_text(self.cert_pem)
        if key_path is not None:
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_text(self.key_pem)
            key_path.chmod(0o600)


def make_ca(
    common_name: str,
    *,
    is_ca: bool = True,
    days: int = 3650,
    not_before: datetime.datetime | None = None,
    organization: str = "fleet example",
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(
    ca: Issued,
    common_name: str,
    *,
    days: int = 365,
    not_before: datetime.datetime | None = None,
    is_ca: bool = False,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> Issued:
    """A device certificate signed by ``ca`` (EC keys: fast to make by the thousand);
    ``is_ca``: a subordinate CA's certificate instead; ``key``: its key pair (default: a new one)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


@dataclass(frozen=True)
class KmsCa:
    """A CA certificate whose private key is an AWS KMS key: only KMS can sign with it."""

    cert: x509.Certificate
    arn: str

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def kms_ca(
    kms: Any,
    issuer: Issued,
    common_name: str,
    key_spec: str = "ECC_NIST_P256",
    *,
    days: int = 3650,
    organization: str = "fleet example",
) -> KmsCa:
    """A new KMS key (``kms``: a boto3 KMS client in the key's account and region) and a CA
    certificate for it, issued by ``issuer`` (a root that holds its own key, as an offline root does)."""
    metadata = kms.create_key(KeySpec=key_spec, KeyUsage="SIGN_VERIFY", Description=common_name)["KeyMetadata"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=metadata["KeyId"])["PublicKey"])
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(issuer.cert.subject)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )
    return KmsCa(cert, str(metadata["Arn"]))


def make_crl(ca: Issued, revoked: list[Issued], *, der: bool = False) -> bytes:
    """The CA's certificate revocation list naming ``revoked`` (by serial), signed by the CA."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - datetime.timedelta(days=1))
        .next_update(now + datetime.timedelta(days=30))
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(entry.cert.serial_number).revocation_date(now).build()
        )
    crl = builder.sign(ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER if der else serialization.Encoding.PEM)
