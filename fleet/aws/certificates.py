"""AWS IoT device-certificate calls, in fleet's terms.

Reads are list calls, 250 a page: never one describe per certificate, except
for the few certificates a decision or a message needs. Writes that may have
been applied although their answer was lost (a retried registration that
then finds the certificate "already registered") are settled by reading AWS.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import AwsError, Conflict, NotFound, RuleViolation, calling
from fleet.aws.status import CertificateStatus


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
        self.writes = 0  # write calls this object has sent (answered or not): who wrote what, for fleet.aws.listing

    @property
    def client(self) -> Any:
        return self._iot

    def list(self, ca_certificate_id: str | None = None) -> Iterator[CertificateSummary]:
        """Every certificate in the region, or only those registered under one CA."""
        doing = f"listing certificates in {self._where}"
        if ca_certificate_id:
            pages = self._pages(
                "list_certificates_by_ca", doing, caCertificateId=ca_certificate_id, pageSize=self._page_size
            )
        else:
            pages = self._pages("list_certificates", doing, pageSize=self._page_size)
        for page in pages:
            for item in page.get("certificates", []):
                yield CertificateSummary(item["certificateId"], item["certificateArn"], item["status"])

    def _pages(self, operation: str, doing: str, **request: Any) -> Iterator[dict[str, Any]]:
        paginator = self._iot.get_paginator(operation)
        with calling(doing):
            yield from paginator.paginate(**request)

    def describe(self, certificate_id: str) -> dict[str, Any]:
        """One certificate's description (PEM, status, CA id): only for the few
        certificates a decision or a message needs."""
        with calling(f"describing certificate {certificate_id} in {self._where}"):
            reply = self._iot.describe_certificate(certificateId=certificate_id)
        return dict(reply["certificateDescription"])

    def summary(self, certificate_id: str) -> CertificateSummary | None:
        try:
            described = self.describe(certificate_id)
        except NotFound:
            return None
        return CertificateSummary(described["certificateId"], described["certificateArn"], described["status"])

    def pem(self, certificate_id: str) -> str:
        """The certificate's PEM (for the few certificates fleet must write down)."""
        return str(self.describe(certificate_id)["certificatePem"])

    def last_modified(self, certificate_id: str) -> str:
        """When the certificate last changed status (ISO date), to explain a refusal."""
        return str(self.describe(certificate_id)["lastModifiedDate"].date().isoformat())

    def register(self, certificate_id: str, pem: str, ca_pem: str | None, status: str) -> CertificateSummary:
        """Register the certificate with ``status``, REVOKED included (AWS then
        keeps the record and refuses the certificate everywhere it looks).
        Returns what AWS has afterwards: a certificate already registered (by
        an earlier try whose answer was lost, or by someone else) is read, not
        an error; the caller converges its status.

        RegisterCertificate documents ACTIVE, INACTIVE and REVOKED as the
        statuses to register with (API_RegisterCertificate.html);
        RegisterCertificateWithoutCA lists the status type without saying
        which are usable, so a certificate without a CA is registered INACTIVE
        and then revoked. A certificate whose CA AWS will not register under
        (deactivated, as after `fleet revoke-ca`) is registered without it
        when it is to be REVOKED: its record matters, not its CA. (UNVERIFIED:
        whether AWS accepts RegisterCertificateWithoutCA for a certificate
        whose CA is registered in the account but inactive.)"""
        try:
            if ca_pem is not None:
                try:
                    self._call(
                        "register_certificate",
                        f"registering certificate {certificate_id}",
                        certificatePem=pem,
                        caCertificatePem=ca_pem,
                        status=status,
                    )
                    return self._settled(certificate_id)
                except RuleViolation:
                    if status != CertificateStatus.REVOKED:
                        raise
            first = CertificateStatus.INACTIVE if status == CertificateStatus.REVOKED else status
            self._call(
                "register_certificate_without_ca",
                f"registering certificate {certificate_id} without a CA",
                certificatePem=pem,
                status=first,
            )
        except Conflict:
            pass  # registered already: what AWS has is read below
        return self._settled(certificate_id)

    def _settled(self, certificate_id: str) -> CertificateSummary:
        found = self.summary(certificate_id)
        if found is None:  # AWS said it registered it, then does not know it
            raise AwsError(
                f"registering certificate {certificate_id} in {self._where}: AWS answered, "
                "but does not list it afterwards"
            )
        return found

    def set_status(self, certificate_id: str, status: str) -> None:
        """UpdateCertificate is idempotent (API_UpdateCertificate.html), so a retry after a lost answer is safe."""
        self._call(
            "update_certificate",
            f"setting certificate {certificate_id} {status}",
            certificateId=certificate_id,
            newStatus=status,
        )

    def targets_of(self, policy: str) -> set[str]:
        """ARNs of every principal the policy is attached to (none when the policy is missing)."""
        targets: set[str] = set()
        try:
            for page in self._pages(
                "list_targets_for_policy",
                f"listing targets of policy {policy} in {self._where}",
                policyName=policy,
                pageSize=self._page_size,
            ):
                targets.update(page.get("targets", []))
        except NotFound:
            return set()
        return targets

    def attached_policies(self, arn: str) -> builtins.list[str]:
        found: builtins.list[str] = []
        for page in self._pages(
            "list_attached_policies",
            f"listing the policies of {arn} in {self._where}",
            target=arn,
            pageSize=self._page_size,
        ):
            found.extend(p["policyName"] for p in page.get("policies", []))
        return found

    def attach(self, policy: str, arn: str) -> None:
        """AttachPolicy of a policy already attached succeeds: a retry is safe."""
        self._call("attach_policy", f"attaching policy {policy} to {arn}", policyName=policy, target=arn)

    def detach(self, policy: str, arn: str) -> None:
        try:
            self._call("detach_policy", f"detaching policy {policy} from {arn}", policyName=policy, target=arn)
        except NotFound:
            return

    def things_of(self, arn: str) -> builtins.list[str]:
        found: builtins.list[str] = []
        for page in self._pages(
            "list_principal_things",
            f"listing the things of {arn} in {self._where}",
            principal=arn,
            maxResults=self._page_size,
        ):
            found.extend(page.get("things", []))
        return found

    def attach_thing(self, thing: str, arn: str) -> None:
        """Attach the certificate to ``thing``, creating the thing when missing
        (CreateThing is idempotent for the same name and configuration)."""
        self._call("create_thing", f"creating thing {thing}", thingName=thing)
        self._call("attach_thing_principal", f"attaching {arn} to thing {thing}", thingName=thing, principal=arn)

    def detach_thing(self, thing: str, arn: str) -> None:
        try:
            self._call("detach_thing_principal", f"detaching {arn} from thing {thing}", thingName=thing, principal=arn)
        except NotFound:
            return

    def retire(self, certificate: CertificateSummary) -> None:
        """Remove a certificate from AWS in the order AWS requires: deactivate,
        detach its policies and things, delete. A revoked certificate stays,
        revoked: that is its record."""
        if certificate.status == CertificateStatus.REVOKED:
            return
        if certificate.status == CertificateStatus.ACTIVE:
            self.set_status(certificate.certificate_id, CertificateStatus.INACTIVE)
        for policy in self.attached_policies(certificate.arn):
            self.detach(policy, certificate.arn)
        for thing in self.things_of(certificate.arn):
            self.detach_thing(thing, certificate.arn)
        try:
            self._call(
                "delete_certificate",
                f"deleting certificate {certificate.certificate_id}",
                certificateId=certificate.certificate_id,
                forceDelete=False,
            )
        except NotFound:
            return

    def _call(self, operation: str, doing: str, **request: Any) -> dict[str, Any]:
        """Every write goes through here (reads page or describe)."""
        self.writes += 1
        with calling(f"{doing} in {self._where}"):
            return dict(getattr(self._iot, operation)(**request))


def already_registered(error: AwsError) -> bool:
    return error.code == "ResourceAlreadyExistsException"
