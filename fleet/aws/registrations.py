"""The calls the just-in-time activation function makes (fleet.jitr.handler), in
fleet's terms. Its execution role allows exactly these (fleet.jitr.role; a
test holds the two together). Imports nothing that needs the cryptography
package: this module travels in the function's package (fleet.jitr.package)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import NotFound, calling
from fleet.aws.status import CertificateStatus


@dataclass(frozen=True)
class Registered:
    """A certificate's record in one account and region."""

    certificate_id: str
    arn: str
    status: str
    ca_certificate_id: str | None
    pem: str


class Registrations:
    """One account and region's certificate records, as the function reads and activates them."""

    def __init__(self, iot: Any, where: str):
        self._iot = iot
        self._where = where  # "account 111111111111, us-east-1", for messages

    def describe(self, certificate_id: str) -> Registered | None:
        """None: no record of it here."""
        try:
            with calling(f"reading certificate {certificate_id} in {self._where}"):
                found = self._iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
        except NotFound:
            return None
        return Registered(
            found["certificateId"],
            found["certificateArn"],
            found["status"],
            found.get("caCertificateId"),
            found.get("certificatePem", ""),
        )

    def ca_status(self, ca_certificate_id: str) -> str:
        """The CA's status here; ABSENT when AWS has no such CA."""
        try:
            with calling(f"reading CA {ca_certificate_id} in {self._where}"):
                found = self._iot.describe_ca_certificate(certificateId=ca_certificate_id)
        except NotFound:
            return "ABSENT"
        return str(found["certificateDescription"]["status"])

    def activate(self, registered: Registered, policies: list[str]) -> None:
        """Policies first, so a device activated has what it needs; both calls are idempotent."""
        for policy in policies:
            with calling(f"attaching policy {policy} to certificate {registered.certificate_id} in {self._where}"):
                self._iot.attach_policy(policyName=policy, target=registered.arn)
        with calling(f"activating certificate {registered.certificate_id} in {self._where}"):
            self._iot.update_certificate(
                certificateId=registered.certificate_id, newStatus=CertificateStatus.ACTIVE.value
            )
