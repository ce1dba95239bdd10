"""AWS IoT CA certificate calls, in fleet's terms."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import Conflict, NotFound, calling
from fleet.aws.status import CaStatus
from fleet.crypto import pki

# registration config: manifest key <-> AWS key
CONFIG_KEYS = {"template_body": "templateBody", "template_name": "templateName", "role_arn": "roleArn"}


@dataclass(frozen=True)
class CaState:
    """What AWS says about one registered CA certificate."""

    certificate_id: str
    arn: str
    status: str
    auto_registration: str
    mode: str
    registration_config: dict[str, str]


class CaCertificates:
    """The CA certificate calls of one account and region."""

    def __init__(self, iot: Any, where: str, page_size: int = 250):
        self._iot = iot
        self._where = where  # "account prod (111111111111), us-east-1", for messages
        self._page_size = page_size

    @property
    def client(self) -> Any:
        return self._iot

    def describe(self, certificate_id: str) -> CaState | None:
        found = self.read(certificate_id)
        return found[0] if found is not None else None

    def read(self, certificate_id: str) -> tuple[CaState, str] | None:
        """The CA's state and its certificate (PEM), from one call; None when AWS has no such CA."""
        try:
            with calling(f"describing CA {certificate_id} in {self._where}"):
                reply = self._iot.describe_ca_certificate(certificateId=certificate_id)
        except NotFound:
            return None
        description = reply["certificateDescription"]
        return CaState(
            certificate_id=description["certificateId"],
            arn=description["certificateArn"],
            status=description["status"],
            auto_registration=description.get("autoRegistrationStatus", "DISABLE"),
            mode=description.get("certificateMode", "DEFAULT"),
            registration_config=from_aws_config(reply.get("registrationConfig") or {}),
        ), str(description.get("certificatePem") or "")

    def list(self) -> Iterator[str]:
        """Ids of every CA certificate registered here, page by page."""
        paginator = self._iot.get_paginator("list_ca_certificates")
        with calling(f"listing CA certificates in {self._where}"):
            for page in paginator.paginate(pageSize=self._page_size):
                for ca in page.get("certificates", []):
                    yield ca["certificateId"]

    def pem(self, certificate_id: str) -> str:
        """The CA's certificate as AWS has it (a device registered under it names it)."""
        with calling(f"describing CA {certificate_id} in {self._where}"):
            reply = self._iot.describe_ca_certificate(certificateId=certificate_id)
        return str(reply["certificateDescription"]["certificatePem"])

    def registration_code(self) -> str:
        with calling(f"getting the registration code of {self._where}"):
            return str(self._iot.get_registration_code()["registrationCode"])

    def register(
        self,
        certificate_pem: str,
        verification_pem: str | None,
        mode: str,
        status: str,
        auto_registration: str,
        registration_config: Mapping[str, str],
    ) -> str:
        request: dict[str, Any] = {
            "caCertificate": certificate_pem,
            "setAsActive": status == CaStatus.ACTIVE,
            "allowAutoRegistration": auto_registration == "ENABLE",
            "certificateMode": mode,
        }
        if verification_pem is not None:
            request["verificationCertificate"] = verification_pem
        if registration_config:
            request["registrationConfig"] = to_aws_config(registration_config)
        try:
            with calling(f"registering the CA in {self._where}"):
                return str(self._iot.register_ca_certificate(**request)["certificateId"])
        except Conflict:
            # Registered already (an earlier try whose answer was lost, or someone
            # else): the caller reads it and converges its settings.
            return pki.certificate_id(pki.load_certificate(certificate_pem.encode()))

    def update(
        self,
        certificate_id: str,
        status: str | None = None,
        auto_registration: str | None = None,
        registration_config: Mapping[str, str] | None = None,
    ) -> None:
        request: dict[str, Any] = {"certificateId": certificate_id}
        if status is not None:
            request["newStatus"] = status
        if auto_registration is not None:
            request["newAutoRegistrationStatus"] = auto_registration
        if registration_config is not None:
            if registration_config:
                request["registrationConfig"] = to_aws_config(registration_config)
            else:
                request["removeAutoRegistration"] = True
        if len(request) == 1:
            return
        with calling(f"updating CA {certificate_id} in {self._where}"):
            self._iot.update_ca_certificate(**request)

    def device_certificate_ids(self, ca_certificate_id: str) -> Iterator[str]:
        """Ids of the device certificates registered under the CA, page by page."""
        paginator = self._iot.get_paginator("list_certificates_by_ca")
        with calling(f"listing certificates of CA {ca_certificate_id} in {self._where}"):
            for page in paginator.paginate(caCertificateId=ca_certificate_id, pageSize=self._page_size):
                for certificate in page.get("certificates", []):
                    yield certificate["certificateId"]

    def listed(self) -> Iterator[tuple[str, str]]:
        """(certificate id, status) of every CA certificate registered in the account and region."""
        paginator = self._iot.get_paginator("list_ca_certificates")
        with calling(f"listing CA certificates in {self._where}"):
            for page in paginator.paginate(pageSize=self._page_size):
                for certificate in page.get("certificates", []):
                    yield certificate["certificateId"], certificate["status"]

    def delete(self, certificate_id: str) -> None:
        try:
            with calling(f"deleting CA {certificate_id} in {self._where}"):
                self._iot.delete_ca_certificate(certificateId=certificate_id)
        except NotFound:
            return  # already gone: the goal is reached


def to_aws_config(config: Mapping[str, str]) -> dict[str, str]:
    return {CONFIG_KEYS[k]: v for k, v in config.items() if v}


def from_aws_config(config: Mapping[str, str]) -> dict[str, str]:
    reverse = {v: k for k, v in CONFIG_KEYS.items()}
    return {reverse[k]: v for k, v in sorted(config.items()) if k in reverse and v}
