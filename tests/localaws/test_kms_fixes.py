"""fleet's fix to moto's KMS holds on the local endpoint, and fails on plain moto
5.2.5 (localaws.kms_fixes): Sign with MessageType DIGEST signs the digest given.

https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from devtools.endpoint import LocalAws
from tests.conftest import client_in
from tests.localaws.support import ACCOUNT_A, error_code

MESSAGE = b"a TBSCertificate, say"
KEYS = [
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_256"),
]


def signs_the_digest_given(kms: Any, spec: str, algorithm: str) -> None:
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    hash_algorithm = hashes.SHA384() if algorithm.endswith("384") else hashes.SHA256()
    digest = hashlib.new(hash_algorithm.name, MESSAGE).digest()
    signature = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)["Signature"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, digest, ec.ECDSA(Prehashed(hash_algorithm)))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(signature, digest, padding.PKCS1v15(), Prehashed(hash_algorithm))


def kms_on(endpoint: LocalAws) -> Any:
    return client_in(endpoint, "kms", ACCOUNT_A)


@pytest.mark.parametrize(("spec", "algorithm"), KEYS)
def test_the_local_endpoint_signs_a_digest(spec: str, algorithm: str, local_aws: LocalAws) -> None:
    signs_the_digest_given(kms_on(local_aws), spec, algorithm)


@pytest.mark.parametrize(("spec", "algorithm"), KEYS[:1] + KEYS[2:3])
def test_plain_moto_signs_the_digest_again(spec: str, algorithm: str, plain_moto_server: LocalAws) -> None:
    plain_moto_server.reset()
    with pytest.raises(InvalidSignature):  # moto hashed the digest again before signing
        signs_the_digest_given(kms_on(plain_moto_server), spec, algorithm)


def test_a_digest_of_the_wrong_length_is_refused(local_aws: LocalAws) -> None:
    kms: Any = kms_on(local_aws)
    key_id = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]

    def sign() -> Any:  # a SHA-256 digest, for a key that signs SHA-384 digests
        return kms.sign(
            KeyId=key_id,
            Message=hashlib.sha256(MESSAGE).digest(),
            MessageType="DIGEST",
            SigningAlgorithm="ECDSA_SHA_384",
        )

    assert error_code(sign) == "ValidationException"


def test_raw_messages_are_signed_as_before(local_aws: LocalAws) -> None:
    kms: Any = kms_on(local_aws)
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_an_encryption_key_cannot_sign(local_aws: LocalAws) -> None:
    kms: Any = kms_on(local_aws)
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError):
        kms.sign(
            KeyId=key_id,
            Message=hashlib.sha256(MESSAGE).digest(),
            MessageType="DIGEST",
            SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
        )
