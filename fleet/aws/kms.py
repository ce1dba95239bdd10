"""AWS KMS calls, in fleet's terms: a CA key's public half, and signatures KMS
makes with it. The private key never leaves KMS; fleet sends a digest and gets
a signature back.

https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html
https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import calling

ACTIONS = frozenset({"kms:GetPublicKey", "kms:Sign"})  # every KMS call fleet makes (fleet iam grants them)


@dataclass(frozen=True)
class PublicKey:
    """What GetPublicKey says of an asymmetric KMS key."""

    der: bytes  # its SubjectPublicKeyInfo, DER
    usage: str  # SIGN_VERIFY, ENCRYPT_DECRYPT, KEY_AGREEMENT
    algorithms: tuple[str, ...]  # the signing algorithms KMS allows it


class KmsKey:
    """One KMS key, reached through one role."""

    def __init__(self, kms: Any, arn: str, via: str):
        self._kms = kms
        self._arn = arn
        self._via = via  # "as arn:aws:iam::111111111111:role/fleet-deployer", for messages

    def public_key(self) -> PublicKey:
        with calling(f"reading the public key of KMS key {self._arn} {self._via}"):
            reply = self._kms.get_public_key(KeyId=self._arn)
        return PublicKey(
            bytes(reply["PublicKey"]), str(reply.get("KeyUsage", "")), tuple(reply.get("SigningAlgorithms") or ())
        )

    def sign_digest(self, digest: bytes, algorithm: str) -> bytes:
        """KMS's signature over ``digest`` (already hashed: MessageType DIGEST) with ``algorithm``
        (ECDSA_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ...)."""
        with calling(f"signing with KMS key {self._arn} {self._via}"):
            reply = self._kms.sign(KeyId=self._arn, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)
        return bytes(reply["Signature"])
