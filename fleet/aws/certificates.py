"""AWS IoT device-certificate calls, in fleet's terms.

Reads are list calls, 250 a page: never one describe per certificate, except
for the few certificates a refusal has to explain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import AwsError, NotFound, calling


@dataclass(frozen=True)
class CertificateSummary:
    certificate_id: str
    arn: str
    status: str


class Certificates:
    """The device-certificate calls of one account and region."""

    def __init__(self, iot: Any, where: str, page_size: int = 250):
        self._iot = iot
        self._where = where
        self._page_size = page_size

    def list(self, ca_certificate_id: str | None = None) -> Iterator[CertificateSummary]:
        """Every certificate in the region, or only those registered under one CA."""
        request: dict[str, Any] = {"pageSize": self._page_size}
        if ca_certificate_id:
            request["caCertificateId"] = ca_certificate_id
        while True:
            with calling(f"listing certificates in {self._where}"):
                reply = (self._iot.list_certificates_by_ca(**request) if ca_certificate_id
                         else self._iot.list_certificates(**request))
            for item in reply.get("certificates", []):
                yield CertificateSummary(item["certificateId"], item["certificateArn"], item["status"])
            if not reply.get("nextMarker"):
                return
            request["marker"] = reply["nextMarker"]

    def pem(self, certificate_id: str) -> str:
        """The certificate's PEM (for the few certificates fleet must write down)."""
        return str(self.describe(certificate_id)["certificatePem"])

    def describe(self, certificate_id: str) -> dict[str, Any]:
        """One certificate's description (PEM, status, CA id): only for the few
        certificates a decision or a message needs."""
        with calling(f"describing certificate {certificate_id} in {self._where}"):
            reply = self._iot.describe_certificate(certificateId=certificate_id)
        return dict(reply["certificateDescription"])

    def last_modified(self, certificate_id: str) -> str:
        """When the certificate last changed status (ISO date), to explain a refusal."""
        return str(self.describe(certificate_id)["lastModifiedDate"].date().isoformat())

    def register(self, pem: str, ca_pem: str | None, status: str) -> str:
        """Register with the given status; returns the ARN. Existing: Conflict."""
        with calling(f"registering a certificate in {self._where}"):
            if ca_pem is None:
                reply = self._iot.register_certificate_without_ca(certificatePem=pem, status=status)
            elif status == "ACTIVE":
                reply = self._iot.register_certificate(certificatePem=pem, caCertificatePem=ca_pem, setAsActive=True)
            else:
                reply = self._iot.register_certificate(certificatePem=pem, caCertificatePem=ca_pem, status=status)
        return str(reply["certificateArn"])

    def set_status(self, certificate_id: str, status: str) -> None:
        with calling(f"setting certificate {certificate_id} {status} in {self._where}"):
            self._iot.update_certificate(certificateId=certificate_id, newStatus=status)

    def targets_of(self, policy: str) -> set[str]:
        """ARNs of every principal the policy is attached to."""
        targets: set[str] = set()
        request: dict[str, Any] = {"policyName": policy, "pageSize": self._page_size}
        while True:
            try:
                with calling(f"listing targets of policy {policy} in {self._where}"):
                    reply = self._iot.list_targets_for_policy(**request)
            except NotFound:
                return targets
            targets.update(reply.get("targets", []))
            if not reply.get("nextMarker"):
                return targets
            request["marker"] = reply["nextMarker"]

    def attach(self, policy: str, arn: str) -> None:
        with calling(f"attaching policy {policy} in {self._where}"):
            self._iot.attach_policy(policyName=policy, target=arn)

    def detach(self, policy: str, arn: str) -> None:
        try:
            with calling(f"detaching policy {policy} in {self._where}"):
                self._iot.detach_policy(policyName=policy, target=arn)
        except NotFound:
            return

    def attach_thing(self, thing: str, arn: str) -> None:
        """Attach the certificate to ``thing``, creating the thing when missing
        (CreateThing is idempotent for the same name and configuration)."""
        with calling(f"attaching a certificate to thing {thing} in {self._where}"):
            self._iot.create_thing(thingName=thing)
            self._iot.attach_thing_principal(thingName=thing, principal=arn)

    def detach_thing(self, thing: str, arn: str) -> None:
        try:
            with calling(f"detaching a certificate from thing {thing} in {self._where}"):
                self._iot.detach_thing_principal(thingName=thing, principal=arn)
        except NotFound:
            return

    def delete(self, certificate_id: str) -> None:
        try:
            with calling(f"deleting certificate {certificate_id} in {self._where}"):
                self._iot.delete_certificate(certificateId=certificate_id, forceDelete=False)
        except NotFound:
            return


def already_registered(error: AwsError) -> bool:
    return error.code == "ResourceAlreadyExistsException"
