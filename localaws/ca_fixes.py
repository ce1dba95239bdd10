"""fleet's fixes to moto 5.2.5's AWS IoT CA certificates and list paging.

Each fix follows the AWS IoT API Reference page cited beside it. ``apply()``
patches moto in this process; the server in ``localaws.server`` calls it before
it serves a request. tests/localaws/test_ca_fixes.py checks every fix against
this server and shows that plain moto fails the same check.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from moto.core.config import default_user_config
from moto.core.responses import ActionResult
from moto.iot import models as iot_models
from moto.iot.exceptions import (
    InvalidRequestException,
    IoTClientError,
    ResourceAlreadyExistsException,
)
from moto.iot.models import FakeCaCertificate, IoTBackend, iot_backends
from moto.iot.responses import IoTResponse

from localaws import paging

MODES = ("DEFAULT", "SNI_ONLY")
MAX_CAS_PER_SUBJECT = 10


class CertificateValidationException(IoTClientError):
    def __init__(self, msg: str):
        super().__init__("CertificateValidationException", msg)


class RegistrationCodeValidationException(IoTClientError):
    def __init__(self, msg: str):
        super().__init__("RegistrationCodeValidationException", msg)


class LimitExceededException(IoTClientError):
    def __init__(self, msg: str):
        self.code = 410
        super().__init__("LimitExceededException", msg)


def apply() -> None:
    """Patch moto's IoT CA calls and list paging in this process (idempotent)."""
    # Certificate ids are the SHA-256 of the DER encoding, not of the PEM text.
    default_user_config["iot"] = {"use_valid_cert": True}
    IoTBackend.get_registration_code = _get_registration_code
    IoTBackend.register_ca_certificate = _register_ca_certificate
    IoTBackend.update_ca_certificate = _update_ca_certificate
    IoTBackend.list_ca_certificates = _list_ca_certificates
    FakeCaCertificate.to_description_dict = _ca_description
    FakeCaCertificate.to_dict = _ca_summary
    IoTResponse.register_ca_certificate = _response_register_ca_certificate
    IoTResponse.update_ca_certificate = _response_update_ca_certificate
    IoTResponse.list_ca_certificates = _response_list_ca_certificates
    IoTResponse.list_certificates = _response_list_certificates
    IoTResponse.list_certificates_by_ca = _response_list_certificates_by_ca


# --- GetRegistrationCode -----------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_GetRegistrationCode.html
# The code is 64 hex characters and stays the same for an account and region
# until DeleteRegistrationCode; moto returns a fresh UUID on every call.
def _get_registration_code(self: IoTBackend) -> str:
    seed = f"localaws-registration-code:{self.account_id}:{self.region_name}"
    return hashlib.sha256(seed.encode()).hexdigest()


# --- RegisterCACertificate ---------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCACertificate.html
# - certificateMode DEFAULT needs a verificationCertificate whose subject CN is
#   the registration code and which the CA's key signed; SNI_ONLY must not
#   carry one.
# - "A CA certificate in DEFAULT mode can be registered by only one account in
#   a region"; at most 10 CA certificates with the same subject per account.
# - Registering the same CA twice in one account and region is
#   ResourceAlreadyExistsException.
def _register_ca_certificate(
    self: IoTBackend,
    ca_certificate: str,
    set_as_active: bool,
    registration_config: dict[str, str] | None,
    verification_certificate: str | None = None,
    allow_auto_registration: bool = False,
    certificate_mode: str | None = None,
) -> FakeCaCertificate:
    mode = certificate_mode or "DEFAULT"
    if mode not in MODES:
        raise InvalidRequestException(f"certificateMode must be one of {', '.join(MODES)}")
    ca = _load_certificate(ca_certificate, "caCertificate")
    constraints = _basic_constraints(ca)
    if constraints is None or not constraints.ca:
        raise CertificateValidationException("The certificate is not a CA certificate.")
    if mode == "DEFAULT":
        if not verification_certificate:
            raise InvalidRequestException("verificationCertificate is required when certificateMode is DEFAULT")
        _check_verification(self, ca, _load_certificate(verification_certificate, "verificationCertificate"))
    elif verification_certificate:
        raise InvalidRequestException("verificationCertificate must be empty when certificateMode is SNI_ONLY")

    certificate = FakeCaCertificate(
        ca_certificate=ca_certificate,
        status="ACTIVE" if set_as_active else "INACTIVE",
        account_id=self.account_id,
        region_name=self.region_name,
        registration_config=registration_config or {},
    )
    if certificate.certificate_id in self.ca_certificates:
        raise ResourceAlreadyExistsException(
            "The certificate is already provisioned or registered",
            certificate.certificate_id,
            certificate.arn,
        )
    if mode == "DEFAULT":
        owner = _default_mode_owner(certificate.certificate_id, self.region_name)
        if owner is not None:
            raise ResourceAlreadyExistsException(
                f"A CA certificate in DEFAULT mode can be registered by only one account "
                f"in a region; it is registered by account {owner}",
                certificate.certificate_id,
                certificate.arn,
            )
    same_subject = [c for c in self.ca_certificates.values() if _subject(c) == ca.subject]
    if len(same_subject) >= MAX_CAS_PER_SUBJECT:
        raise LimitExceededException(
            f"At most {MAX_CAS_PER_SUBJECT} CA certificates with the same subject per account and region"
        )
    certificate.certificate_mode = mode
    certificate.auto_registration_status = "ENABLE" if allow_auto_registration else "DISABLE"
    certificate.validity_not_before = ca.not_valid_before_utc
    certificate.validity_not_after = ca.not_valid_after_utc
    self.ca_certificates[certificate.certificate_id] = certificate
    return certificate


def _check_verification(self: IoTBackend, ca: x509.Certificate, verification: x509.Certificate) -> None:
    names = verification.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or names[0].value != _get_registration_code(self):
        raise RegistrationCodeValidationException(
            "The verification certificate's Common Name is not this account's registration code."
        )
    if not _signed_by(verification, ca):
        raise CertificateValidationException(
            "The verification certificate is not signed by the CA certificate's private key."
        )


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca``'s key signed ``cert`` (RSA or EC CAs)."""
    if cert.issuer != ca.subject:
        return False
    public_key = ca.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
            )  # type: ignore[arg-type]
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _default_mode_owner(certificate_id: str, region: str) -> str | None:
    for account_id, account_backends in dict.items(iot_backends):
        backend = dict.get(account_backends, region)
        if backend is None:
            continue
        ca = backend.ca_certificates.get(certificate_id)
        if ca is not None and getattr(ca, "certificate_mode", "DEFAULT") == "DEFAULT":
            return str(account_id)
    return None


def _load_certificate(pem: str, field: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as error:
        raise CertificateValidationException(f"{field} is not a valid PEM certificate.") from error


def _basic_constraints(cert: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _subject(ca: FakeCaCertificate) -> x509.Name:
    return x509.load_pem_x509_certificate(ca.certificate_pem.encode()).subject


def _response_register_ca_certificate(self: IoTResponse) -> Any:
    cert = self.iot_backend.register_ca_certificate(
        ca_certificate=self._get_param("caCertificate"),
        set_as_active=self._get_bool_param("setAsActive", False),
        registration_config=self._get_param("registrationConfig"),
        verification_certificate=self._get_param("verificationCertificate"),
        allow_auto_registration=self._get_bool_param("allowAutoRegistration", False),
        certificate_mode=self._get_param("certificateMode"),
    )
    return ActionResult({"certificateId": cert.certificate_id, "certificateArn": cert.arn})


# --- UpdateCACertificate -----------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateCACertificate.html
# newAutoRegistrationStatus ENABLE | DISABLE; removeAutoRegistration clears
# the registration config. moto ignores both.
def _update_ca_certificate(
    self: IoTBackend,
    certificate_id: str,
    new_status: str | None,
    config: dict[str, str] | None,
    new_auto_registration_status: str | None = None,
    remove_auto_registration: bool = False,
) -> None:
    cert = self.describe_ca_certificate(certificate_id)
    if new_status is not None and new_status not in ("ACTIVE", "INACTIVE"):
        raise InvalidRequestException("newStatus must be ACTIVE or INACTIVE")
    if new_auto_registration_status is not None and new_auto_registration_status not in ("ENABLE", "DISABLE"):
        raise InvalidRequestException("newAutoRegistrationStatus must be ENABLE or DISABLE")
    if new_status is not None:
        cert.status = new_status
    if new_auto_registration_status is not None:
        cert.auto_registration_status = new_auto_registration_status
    if remove_auto_registration:
        cert.registration_config = {}
    elif config is not None:
        cert.registration_config = config
    cert.last_modified_date = iot_models.utcnow()


def _response_update_ca_certificate(self: IoTResponse) -> Any:
    self.iot_backend.update_ca_certificate(
        certificate_id=self.path.split("/")[-1],
        new_status=self._get_param("newStatus"),
        config=self._get_param("registrationConfig"),
        new_auto_registration_status=self._get_param("newAutoRegistrationStatus"),
        remove_auto_registration=bool(self._get_param("removeAutoRegistration")),
    )
    return ActionResult({})


# --- DescribeCACertificate ---------------------------------------------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_CACertificateDescription.html
# carries autoRegistrationStatus and certificateMode.
def _ca_description(self: FakeCaCertificate) -> dict[str, Any]:
    return {
        "certificateArn": self.arn,
        "certificateId": self.certificate_id,
        "status": self.status,
        "certificatePem": self.certificate_pem,
        "ownedBy": self.owner,
        "creationDate": self.creation_date,
        "lastModifiedDate": self.last_modified_date,
        "autoRegistrationStatus": getattr(self, "auto_registration_status", "DISABLE"),
        "certificateMode": getattr(self, "certificate_mode", "DEFAULT"),
        "validity": {"notBefore": self.validity_not_before, "notAfter": self.validity_not_after},
    }


def _ca_summary(self: FakeCaCertificate) -> dict[str, Any]:
    return {
        "certificateArn": self.arn,
        "certificateId": self.certificate_id,
        "status": self.status,
        "creationDate": self.creation_date,
    }


# --- ListCACertificates, ListCertificates, ListCertificatesByCA --------------
# https://docs.aws.amazon.com/iot/latest/apireference/API_ListCACertificates.html
# (moto has no ListCACertificates at all), API_ListCertificates.html and
# API_ListCertificatesByCA.html: pageSize 1..250, marker / nextMarker.
def _list_ca_certificates(self: IoTBackend) -> list[FakeCaCertificate]:
    return list(self.ca_certificates.values())


def _paged(self: IoTResponse, items: list[Any]) -> Any:
    chosen, next_marker = paging.page(items, self._get_param("pageSize"), self._get_param("marker"))
    body: dict[str, Any] = {"certificates": [c.to_dict() for c in chosen]}
    if next_marker is not None:
        body["nextMarker"] = next_marker
    return ActionResult(body)


def _response_list_ca_certificates(self: IoTResponse) -> Any:
    return _paged(self, self.iot_backend.list_ca_certificates())


def _response_list_certificates(self: IoTResponse) -> Any:
    return _paged(self, list(self.iot_backend.list_certificates()))


def _response_list_certificates_by_ca(self: IoTResponse) -> Any:
    ca_id = self.path.split("/")[-1]
    return _paged(self, self.iot_backend.list_certificates_by_ca(ca_id))
