"""A certificate's status and a CA's, as AWS IoT names them (CertificateStatus and
CACertificateStatus in its API).

A StrEnum whose values are AWS's strings: a member is equal to its string,
hashes like it, and is written as it (JSON, Pulumi properties, boto3 requests),
so states, manifests and configurations read and written by any version of
fleet stay the same. Imports nothing: the manifests, the program, the providers
and the review use it alike.
"""

from __future__ import annotations

from enum import StrEnum


class CertificateStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    REVOKED = "REVOKED"
    PENDING_ACTIVATION = "PENDING_ACTIVATION"  # registered under a CA with auto-registration, not decided yet
    PENDING_TRANSFER = "PENDING_TRANSFER"
    REGISTER_INACTIVE = "REGISTER_INACTIVE"


class CaStatus(StrEnum):
    """A CA certificate's status (CACertificateStatus in AWS IoT's API): only these two."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
