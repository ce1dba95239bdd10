"""fleet's fixes to moto 5.2.5's AWS IoT device certificates and policies.

Each fix follows the AWS IoT API Reference page cited beside it; ``apply()``
patches moto in this process.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iot.exceptions import (
    CertificateStateException,
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from moto.iot.models import FakeCertificate, IoTBackend
from moto.iot.responses import IoTResponse

from localaws import paging
from localaws.ca_fixes import (
    CertificateValidationException,
    _load_certificate,
    _signed_by,
)

SETTABLE_STATUSES = ("ACTIVE", "INACTIVE", "REVOKED", "REGISTER_INACTIVE")
INTERNAL_STATUSES = ("PENDING_TRANSFER", "PENDING_ACTIVATION")


def apply() -> None:
    IoTBackend.update_certificate = _update_certificate
    IoTBackend.register_certificate = _register_certificate
    IoTBackend.register_certificate_without_ca = _register_certificate_without_ca
    IoTBackend.delete_certificate = _delete_certificate
    IoTBackend.set_default_policy_version = _set_default_policy_version
    IoTBackend.create_thing = _idempotent_create_thing(IoTBackend.create_thing)
    FakeCertificate.to_description_dict = _certificate_description
    IoTResponse.register_certificate = _response_register_certificate
    IoTResponse.list_targets_for_policy = _response_list_targets_for_policy


# --- UpdateCertificate -------------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateCertificate.html
# "PENDING_TRANSFER, PENDING_ACTIVATION ... are for internal use" and cannot be
# set; https://docs.aws.amazon.com/iot/latest/developerguide/revoke.html (a
# revoked certificate cannot be activated again). moto accepts any string and
# any transition. The exact AWS error for REVOKED -> other is UNVERIFIED
# (aws-iot-facts.md); CertificateStateException is the documented error of
# UpdateCertificate for a certificate in the wrong state. A change of status is
# the certificate's lastModifiedDate (API_CertificateDescription.html: "The date
# and time the certificate was last modified"), which fleet reads as the date a
# certificate was revoked; moto never moves it from the registration.
def _update_certificate(self: IoTBackend, certificate_id: str, new_status: str) -> None:
    cert = self.describe_certificate(certificate_id)
    if new_status in INTERNAL_STATUSES or new_status not in SETTABLE_STATUSES:
        raise InvalidRequestException(f"newStatus {new_status!r} cannot be set")
    if cert.status == "REVOKED" and new_status != "REVOKED":
        raise CertificateStateException("A revoked certificate cannot change status.", certificate_id)
    if cert.status != new_status:
        cert.last_modified_date = utcnow()
    cert.status = new_status


# --- RegisterCertificate -----------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCertificate.html
# and developerguide/register-device-cert.html: the certificate must be valid
# PEM, signed by a CA registered in this account and region, and that CA must
# be ACTIVE. moto checks none of it and never records the CA.
def _register_certificate(
    self: IoTBackend,
    certificate_pem: str,
    ca_certificate_pem: str | None,
    set_as_active: bool,
    status: str,
) -> FakeCertificate:
    device = _load_certificate(certificate_pem, "certificatePem")
    candidates = [
        ca
        for ca in self.ca_certificates.values()
        if (ca_certificate_pem is None or ca.certificate_pem.strip() == ca_certificate_pem.strip())
    ]
    issuer = next((ca for ca in candidates if _signed_by(device, _load_certificate(ca.certificate_pem, "CA"))), None)
    if issuer is None:
        raise CertificateValidationException(
            "The certificate is not signed by a CA certificate registered in this account and region."
        )
    if issuer.status != "ACTIVE":
        raise CertificateValidationException("The CA certificate is not ACTIVE.")
    certificate = FakeCertificate(
        certificate_pem,
        "ACTIVE" if set_as_active else (status or "INACTIVE"),
        self.account_id,
        self.region_name,
        issuer.certificate_id,
    )
    _raise_if_registered(self, certificate)
    _set_validity(certificate, device)
    self.certificates[certificate.certificate_id] = certificate
    return certificate


def _register_certificate_without_ca(self: IoTBackend, certificate_pem: str, status: str) -> FakeCertificate:
    device = _load_certificate(certificate_pem, "certificatePem")
    certificate = FakeCertificate(certificate_pem, status or "INACTIVE", self.account_id, self.region_name)
    _raise_if_registered(self, certificate)
    _set_validity(certificate, device)
    self.certificates[certificate.certificate_id] = certificate
    return certificate


def _raise_if_registered(self: IoTBackend, certificate: FakeCertificate) -> None:
    if certificate.certificate_id in self.certificates:
        raise ResourceAlreadyExistsException(
            "The certificate is already provisioned or registered", certificate.certificate_id, certificate.arn
        )


def _set_validity(certificate: FakeCertificate, cert: x509.Certificate) -> None:
    certificate.validity_not_before = cert.not_valid_before_utc
    certificate.validity_not_after = cert.not_valid_after_utc


def _response_register_certificate(self: IoTResponse) -> Any:
    cert = self.iot_backend.register_certificate(
        certificate_pem=self._get_param("certificatePem"),
        ca_certificate_pem=self._get_param("caCertificatePem"),
        set_as_active=self._get_bool_param("setAsActive", False),
        status=self._get_param("status"),
    )
    return ActionResult({"certificateId": cert.certificate_id, "certificateArn": cert.arn})


# --- DescribeCertificate -----------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_CertificateDescription.html
# carries caCertificateId and the certificate's real validity.
def _certificate_description(self: FakeCertificate) -> dict[str, Any]:
    description = {
        "certificateArn": self.arn,
        "certificateId": self.certificate_id,
        "status": self.status,
        "certificatePem": self.certificate_pem,
        "ownedBy": self.owner,
        "creationDate": self.creation_date,
        "lastModifiedDate": self.last_modified_date,
        "validity": {"notBefore": self.validity_not_before, "notAfter": self.validity_not_after},
        "transferData": self.transfer_data,
    }
    if self.ca_certificate_id:
        description["caCertificateId"] = self.ca_certificate_id
    return description


# --- DeleteCertificate forceDelete ---------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_DeleteCertificate.html
# forceDelete deletes a certificate with policies attached; moto keeps the
# attachments, after which every later delete in the account fails.
def _delete_certificate(self: IoTBackend, certificate_id: str, force_delete: bool) -> None:
    cert = self.describe_certificate(certificate_id)
    self._validation_delete(cert, force_delete)
    for key in [k for k, (principal, _policy) in self.principal_policies.items() if principal is cert]:
        del self.principal_policies[key]
    del self.certificates[certificate_id]


# --- SetDefaultPolicyVersion ---------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_SetDefaultPolicyVersion.html
# ResourceNotFoundException for an unknown version; moto succeeds and leaves
# the policy with no default.
def _set_default_policy_version(self: IoTBackend, policy_name: str, version_id: str) -> None:
    policy = self.get_policy(policy_name)
    if not any(v.version_id == str(version_id) for v in policy.versions):
        raise ResourceNotFoundException(f"Policy version {version_id} of {policy_name} does not exist")
    for version in policy.versions:
        version.is_default = version.version_id == str(version_id)
        if version.is_default:
            policy.default_version_id = version.version_id
            policy.document = version.document


# --- ListTargetsForPolicy ------------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_ListTargetsForPolicy.html
# pageSize (1..250) and marker / nextMarker; moto returns every target at once.
def _response_list_targets_for_policy(self: IoTResponse) -> Any:
    targets = sorted(self.iot_backend.list_targets_for_policy(policy_name=self._get_param("policyName")))
    chosen, next_marker = paging.page(targets, self._get_param("pageSize"), self._get_param("marker"))
    body: dict[str, Any] = {"targets": chosen}
    if next_marker is not None:
        body["nextMarker"] = next_marker
    return ActionResult(body)


# --- CreateThing -----------------------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html
# "If this call is made multiple times using the same thing name and
# configuration, the call will succeed. If this call is made with the same thing
# name but different configuration a ResourceAlreadyExistsException is thrown."
# moto replaces the thing (a new id, its principals orphaned).
def _idempotent_create_thing(create: Any) -> Any:
    if getattr(create, "_localaws_idempotent", False):
        return create

    def create_thing(
        self: IoTBackend,
        thing_name: str,
        thing_type_name: str,
        attribute_payload: Any,
        billing_group_name: str | None = None,
    ) -> Any:
        existing = next((t for t in self.things.values() if t.thing_name == thing_name), None)
        if existing is None:
            return create(self, thing_name, thing_type_name, attribute_payload, billing_group_name)
        attributes = (attribute_payload or {}).get("attributes", {})
        existing_type = existing.thing_type.thing_type_name if existing.thing_type else None
        if existing_type != thing_type_name or existing.attributes != attributes:
            raise ResourceAlreadyExistsException(
                f"Thing {thing_name} already exists with a different configuration", existing.thing_name, existing.arn
            )
        return existing

    create_thing._localaws_idempotent = True  # type: ignore[attr-defined]
    return create_thing
