"""fleet's fix to moto 5.2.5's AWS KMS: Sign with ``MessageType: DIGEST``.

https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
"Use DIGEST for message digests, which are already hashed": KMS signs the
digest as it is (for RSA, wrapped in its DigestInfo), and the digest's length
must be the signing algorithm's hash length. moto ignores MessageType and
hashes the digest again, so its signature verifies over nothing a caller
signed. fleet sends DIGEST, so a verification certificate's TBSCertificate
may be of any length (RAW messages stop at 4,096 bytes).

tests/localaws/test_kms_fixes.py fails on plain moto.
"""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto.kms.exceptions import ValidationException
from moto.kms.responses import KmsResponse

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_plain_sign = KmsResponse.sign


def apply() -> None:
    """Patch moto's KMS Sign in this process (idempotent)."""
    KmsResponse.sign = _sign  # type: ignore[method-assign]


def _sign(self: KmsResponse) -> str:
    if (self._get_param("MessageType") or "RAW") != "DIGEST":
        return _plain_sign(self)
    key_id, digest = self._get_param("KeyId"), self._get_param("Message")
    algorithm = self._get_param("SigningAlgorithm")
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(key_id)
    if key.key_usage != "SIGN_VERIFY":
        raise ValidationException(f"Key '{key.arn}' does not have usage SIGN_VERIFY")
    if algorithm not in key.signing_algorithms:
        raise ValidationException(
            f"Value '{algorithm}' at 'SigningAlgorithm' failed to satisfy constraint: Member "
            f"must satisfy enum value set: {key.signing_algorithms}"
        )
    hash_algorithm = _HASHES[algorithm[-3:]]()
    if not isinstance(digest, bytes) or len(digest) != hash_algorithm.digest_size:
        raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
    private = key.private_key.private_key  # moto's wrapper around a cryptography key
    prehashed = Prehashed(hash_algorithm)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        signature = private.sign(digest, ec.ECDSA(prehashed))
    elif isinstance(private, rsa.RSAPrivateKey):
        scheme: padding.AsymmetricPadding = padding.PKCS1v15()
        if algorithm.startswith("RSASSA_PSS"):  # KMS uses a salt as long as the digest
            scheme = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
        signature = private.sign(digest, scheme, prehashed)
    else:
        raise ValidationException(f"Key '{key.arn}' cannot sign a digest here")
    return json.dumps(
        {"KeyId": key.arn, "Signature": base64.b64encode(signature).decode(), "SigningAlgorithm": algorithm}
    )
