"""X.509 facts fleet needs: fingerprints, CA checks, verification certificates.

Pure functions over ``cryptography`` objects; no AWS, no Pulumi.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from typing import Any, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from fleet.crypto import validity

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
# (data, hash) -> a signature over the data's hash, made elsewhere (AWS KMS): the private key is not here.
RemoteSign = Callable[[bytes, hashes.HashAlgorithm], bytes]


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
        # Parsing the names is what refuses a malformed one (a Name's rfc4514_string only formats
        # what was parsed; it cost as much again at 10^5 certificates).
        _ = (cert.subject, cert.issuer)
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
    the CA's key (a key here, or one whose signatures KMS makes: remote_key).
    Its own key pair is throwaway: only the CA's signature counts.
    https://docs.aws.amazon.com/iot/latest/developerguide/manage-your-CA-certs.html
    """
    throwaway = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, registration_code)]))
        .issuer_name(ca.subject)
        .public_key(throwaway.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, signature_hash(ca_key))
    )
    return to_pem(cert)


def signature_hash(key: SigningKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The hash a CA key signs with: the curve's own size for EC keys (AWS KMS signs
    with ECC_NIST_P384 keys only as ECDSA_SHA_384), SHA-256 for RSA; none for EdDSA."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA512()
    return hashes.SHA256()


def remote_key(public_key: Any, sign: RemoteSign) -> SigningKey:
    """A CA key whose private half is elsewhere (AWS KMS), for cryptography's certificate
    builder: it accepts any subclass of its private-key types and asks the key's own
    ``sign`` for the signature over the TBSCertificate it encoded, which is how
    cryptography supports external signers (pyca/cryptography#11616). EC (ECDSA) and
    RSA (PKCS#1 v1.5) keys."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return _RemoteEcKey(public_key, sign)
    if isinstance(public_key, rsa.RSAPublicKey):
        return _RemoteRsaKey(public_key, sign)
    raise CertificateError(f"cannot sign with a {type(public_key).__name__} held elsewhere (EC or RSA only)")


def _only_signs() -> NoReturn:
    raise TypeError("this key is held elsewhere (AWS KMS): it only signs")


class _RemoteEcKey(ec.EllipticCurvePrivateKey):
    def __init__(self, public_key: ec.EllipticCurvePublicKey, sign: RemoteSign):
        self._public, self._sign = public_key, sign

    def sign(self, data: Any, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA) or not isinstance(
            signature_algorithm.algorithm, hashes.HashAlgorithm
        ):
            raise TypeError("only ECDSA over a message is signed elsewhere")
        return self._sign(bytes(data), signature_algorithm.algorithm)

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        _only_signs()

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        _only_signs()

    def private_bytes(self, encoding: Any, format: Any, encryption_algorithm: Any) -> bytes:  # noqa: A002
        _only_signs()

    def __copy__(self) -> _RemoteEcKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _RemoteEcKey:
        return self


class _RemoteRsaKey(rsa.RSAPrivateKey):
    def __init__(self, public_key: rsa.RSAPublicKey, sign: RemoteSign):
        self._public, self._sign = public_key, sign

    def sign(self, data: Any, padding_: Any, algorithm: Any) -> bytes:
        if not isinstance(padding_, padding.PKCS1v15) or not isinstance(algorithm, hashes.HashAlgorithm):
            raise TypeError("only PKCS#1 v1.5 over a message is signed elsewhere")
        return self._sign(bytes(data), algorithm)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def decrypt(self, ciphertext: bytes, padding: Any) -> bytes:
        _only_signs()

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        _only_signs()

    def private_bytes(self, encoding: Any, format: Any, encryption_algorithm: Any) -> bytes:  # noqa: A002
        _only_signs()

    def __copy__(self) -> _RemoteRsaKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _RemoteRsaKey:
        return self


def verification_problem(
    cert: x509.Certificate, ca: x509.Certificate, registration_code: str, now: datetime.datetime
) -> str | None:
    """Why an offline-signed verification certificate cannot register ``ca`` where
    ``registration_code`` is the account's code, or None."""
    if not signed_by(cert, ca):
        return "is not signed by the CA's private key"
    code = common_name(cert)
    if code != registration_code:
        return (
            f"carries the registration code {str(code)[:12]}…, not this account and region's "
            f"({registration_code[:12]}…: `fleet registration-codes` lists it)"
        )
    invalid = validity_problem(cert, now)
    return f"is {invalid}" if invalid else None


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca``'s private key signed ``cert`` (issuer name and signature). cryptography compares
    the names first, byte for byte (stricter than ``Name ==``, which ignores the string types), and
    checks no signature when they differ: a comparison here too cost a fifth as much as the signature."""
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
