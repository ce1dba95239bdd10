"""X.509 facts fleet needs: fingerprints, CA checks, verification certificates.

Pure functions over ``cryptography`` objects; no AWS, no Pulumi.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from fleet import validity

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


class CertificateError(ValueError):
    """A certificate is malformed or unfit for its role."""


def load_certificate(pem: bytes) -> x509.Certificate:
    """Parse exactly one PEM certificate, every part fleet reads of it at once, so a
    malformed one is refused here rather than failing later."""
    if pem.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise CertificateError("expected exactly one PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        cert = x509.load_pem_x509_certificate(pem)
        for _ in cert.extensions:  # parsed lazily otherwise: a malformed extension would fail later
            pass
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.public_key(), cert.serial_number)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise CertificateError(f"malformed PEM certificate: {error}") from None
    return cert


def certificate_id(cert: x509.Certificate) -> str:
    """AWS IoT's certificate id.

    UNVERIFIED (aws-iot-facts.md): AWS does not document it, but it matches
    the SHA-256 of the DER encoding (openssl x509 -fingerprint -sha256).
    This is the one place fleet assumes it.
    """
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def validity_problem(cert: x509.Certificate, now: datetime.datetime) -> str | None:
    """Why ``cert`` is not valid at ``now``, or None."""
    return validity.problem(cert.not_valid_before_utc, cert.not_valid_after_utc, now)


def key_matches(cert: x509.Certificate, key: SigningKey) -> bool:
    """Whether ``key`` is the private half of ``cert``'s public key."""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki))


def verification_certificate(
    ca: x509.Certificate, ca_key: SigningKey, registration_code: str, now: datetime.datetime
) -> str:
    """The private-key verification certificate AWS IoT needs to register a CA
    in DEFAULT mode: Common Name = the account's registration code, signed by
    the CA's key. Its own key pair is throwaway: only the CA's signature counts.
    https://docs.aws.amazon.com/iot/latest/developerguide/manage-your-CA-certs.html
    """
    throwaway = ec.generate_private_key(ec.SECP256R1())
    algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, registration_code)]))
        .issuer_name(ca.subject)
        .public_key(throwaway.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, algorithm)
    )
    return to_pem(cert)


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca``'s private key signed ``cert`` (issuer name and signature)."""
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A certificate revocation list, PEM or DER."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise CertificateError(f"not a certificate revocation list (PEM or DER): {error}") from None


def crl_signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    if crl.issuer != ca.subject:
        return False
    try:
        return crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return False


def on_crl(cert: x509.Certificate, crl: x509.CertificateRevocationList) -> bool:
    return crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None


def common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None
