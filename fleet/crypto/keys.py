"""Resolve a CA private-key reference to a key, without ever showing the key.

A reference names where the key lives (an AWS KMS key, an environment
variable or a file); manifests, Pulumi state and plans carry only the
reference. A KMS key never leaves KMS: fleet.providers.custody asks KMS to sign. Error messages
name the reference and never include key material: every parsing error is
re-raised ``from None`` so no library message or traceback can carry it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from fleet.crypto.pki import SigningKey
from fleet.files import UnreadableFile, read_bounded

MAX_KEY_BYTES = 64 * 1024  # one PEM private key (an RSA-16384 key is about 12 KiB)


class KeyUnavailable(Exception):
    """The referenced private key cannot be read or is not a usable key."""


@dataclass(frozen=True)
class KeyRef:
    """Where a CA's private key lives: exactly one of ``kms`` (a KMS key's ARN, with the
    role fleet uses it through), ``env`` or ``file``."""

    env: str | None = None
    file: str | None = None
    kms: str | None = None
    role_arn: str | None = None  # with kms: the manifest's role_arn, or the deployer role of the key's account

    def describe(self) -> str:
        if self.kms:
            return f"KMS key {self.kms}"
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def as_dict(self) -> dict[str, str]:
        if self.kms:
            return {"kms": self.kms, "role_arn": str(self.role_arn)}
        return {"env": self.env} if self.env else {"file": str(self.file)}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> KeyRef:
        return cls(env=data.get("env"), file=data.get("file"), kms=data.get("kms"), role_arn=data.get("role_arn"))


def load_private_key(ref: KeyRef, environ: Mapping[str, str] = os.environ) -> SigningKey:
    """A key fleet reads (``env`` or ``file``); a KMS key is never read (fleet.providers.custody signs with it)."""
    if ref.kms:
        raise KeyUnavailable(f"the CA private key is {ref.describe()}: it signs in KMS and is never read")
    pem = _read(ref, environ)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise KeyUnavailable(f"the CA private key in {ref.describe()} is not an unencrypted PEM private key") from None
    finally:
        del pem
    return key  # type: ignore[return-value]


def is_available(ref: KeyRef, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a key fleet reads is there to read (a KMS key is checked with KMS: fleet.providers.custody)."""
    if ref.kms:
        return False
    return bool(environ.get(ref.env)) if ref.env else Path(str(ref.file)).is_file()


def _read(ref: KeyRef, environ: Mapping[str, str]) -> bytes:
    if ref.env:
        value = environ.get(ref.env)
        if not value:
            raise KeyUnavailable(f"the CA private key's {ref.describe()} is not set")
        return value.encode()
    try:
        return read_bounded(Path(str(ref.file)), MAX_KEY_BYTES)
    except OSError as error:
        raise KeyUnavailable(f"cannot read the CA private key {ref.describe()}: {error.strerror}") from None
    except UnreadableFile as error:
        raise KeyUnavailable(f"cannot read the CA private key {ref.describe()}: {error}") from None
