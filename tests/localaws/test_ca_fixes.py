"""Each fix fleet makes to moto's IoT CA calls holds on the local endpoint, and
fails on plain moto 5.2.5 (so the fix is needed, and the test would catch its loss).

Every check cites the AWS IoT API Reference page it follows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization

from devtools.endpoint import LocalAws
from devtools.pki import make_ca
from tests.conftest import client_in
from tests.localaws.support import (
    ACCOUNT_A,
    ACCOUNT_B,
    error_code,
    fix_tests,
    register_default,
    verification_for,
)


# https://docs.aws.amazon.com/iot/latest/apireference/API_ListCACertificates.html
def lists_ca_certificates(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca_id = register_default(iot, make_ca("listed"))
    listed = iot.list_ca_certificates(pageSize=250)["certificates"]
    assert [c["certificateId"] for c in listed] == [ca_id]


# API_ListCertificates.html: pageSize 1..250, marker / nextMarker
def pages_list_certificates(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    for n in range(3):
        iot.register_certificate_without_ca(
            certificatePem=make_ca(f"device {n}", is_ca=False).cert_pem, status="ACTIVE"
        )
    first = iot.list_certificates(pageSize=2)
    assert len(first["certificates"]) == 2 and first.get("nextMarker")
    second = iot.list_certificates(pageSize=2, marker=first["nextMarker"])
    assert len(second["certificates"]) == 1 and not second.get("nextMarker")


# API_ListCertificates.html: "Valid Range: Minimum value of 1. Maximum value of 250."
def refuses_page_size_over_250(iot_in: Callable[..., Any]) -> None:
    assert error_code(lambda: iot_in(ACCOUNT_A).list_certificates(pageSize=251)) == "InvalidRequestException"


# API_CACertificateDescription.html: autoRegistrationStatus, certificateMode
def describes_mode_and_auto_registration(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca_id = iot.register_ca_certificate(
        caCertificate=make_ca("sni").cert_pem, certificateMode="SNI_ONLY", allowAutoRegistration=True
    )["certificateId"]
    description = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert (description.get("certificateMode"), description.get("autoRegistrationStatus")) == ("SNI_ONLY", "ENABLE")


# API_UpdateCACertificate.html: newAutoRegistrationStatus
def updates_auto_registration(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca_id = register_default(iot, make_ca("auto"), allowAutoRegistration=False)
    iot.update_ca_certificate(certificateId=ca_id, newAutoRegistrationStatus="ENABLE")
    description = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    assert description.get("autoRegistrationStatus") == "ENABLE"


# API_RegisterCACertificate.html: the verification certificate must be signed
# by the CA's private key.
def refuses_verification_signed_by_another_key(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca, impostor = make_ca("victim"), make_ca("impostor")
    code = error_code(
        lambda: iot.register_ca_certificate(
            caCertificate=ca.cert_pem, verificationCertificate=verification_for(iot, ca, signer=impostor)
        )
    )
    assert code == "CertificateValidationException"


# manage-your-CA-certs.html: the verification certificate's CN is the code.
def refuses_verification_with_wrong_code(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca = make_ca("wrong code")
    code = error_code(
        lambda: iot.register_ca_certificate(
            caCertificate=ca.cert_pem, verificationCertificate=verification_for(iot, ca, code="0" * 64)
        )
    )
    assert code == "RegistrationCodeValidationException"


# API_RegisterCACertificate.html: "If certificateMode is SNI_ONLY, the
# verificationCertificate field must be empty."
def refuses_verification_in_sni_only_mode(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca = make_ca("sni with verification")
    code = error_code(
        lambda: iot.register_ca_certificate(
            caCertificate=ca.cert_pem, verificationCertificate=verification_for(iot, ca), certificateMode="SNI_ONLY"
        )
    )
    assert code == "InvalidRequestException"


# API_GetRegistrationCode.html: 64 hex characters, stable per account and region.
def keeps_a_stable_registration_code(iot_in: Callable[..., Any]) -> None:
    first = iot_in(ACCOUNT_A).get_registration_code()["registrationCode"]
    again = iot_in(ACCOUNT_A).get_registration_code()["registrationCode"]
    other = iot_in(ACCOUNT_B).get_registration_code()["registrationCode"]
    assert re.fullmatch(r"[0-9a-f]{64}", first) and first == again and first != other


# Certificate ids are the SHA-256 of the DER encoding (aws-iot-facts.md).
def derives_ids_from_der(iot_in: Callable[..., Any]) -> None:
    ca = make_ca("der")
    ca_id = register_default(iot_in(ACCOUNT_A), ca)
    assert ca_id == hashlib.sha256(ca.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


# API_RegisterCACertificate.html: ResourceAlreadyExistsException.
def refuses_registering_a_ca_twice(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca = make_ca("twice")
    register_default(iot, ca)
    assert error_code(lambda: register_default(iot, ca)) == "ResourceAlreadyExistsException"


# manage-your-CA-certs.html: a DEFAULT-mode CA in one account per region;
# SNI_ONLY may be registered in many.
def keeps_default_mode_cas_to_one_account_per_region(iot_in: Callable[..., Any]) -> None:
    ca = make_ca("shared")
    register_default(iot_in(ACCOUNT_A), ca)
    assert error_code(lambda: register_default(iot_in(ACCOUNT_B), ca)) == "ResourceAlreadyExistsException"
    register_default(iot_in(ACCOUNT_B, region="eu-west-1"), ca)  # another region is fine
    sni = make_ca("sni shared").cert_pem
    for account in (ACCOUNT_A, ACCOUNT_B):
        iot_in(account).register_ca_certificate(caCertificate=sni, certificateMode="SNI_ONLY")


CHECKS = [
    lists_ca_certificates,
    pages_list_certificates,
    refuses_page_size_over_250,
    describes_mode_and_auto_registration,
    updates_auto_registration,
    refuses_verification_signed_by_another_key,
    refuses_verification_with_wrong_code,
    refuses_verification_in_sni_only_mode,
    keeps_a_stable_registration_code,
    derives_ids_from_der,
    refuses_registering_a_ca_twice,
    keeps_default_mode_cas_to_one_account_per_region,
]


test_the_local_endpoint, test_plain_moto_fails_without_the_fix = fix_tests(CHECKS)


def test_the_ledger_counts_calls_by_operation(local_aws: LocalAws) -> None:
    iot = client_in(local_aws, "iot", ACCOUNT_A)
    iot.get_registration_code()
    iot.list_ca_certificates()
    calls = local_aws.calls()
    assert calls["iot:GetRegistrationCode"] == 1 and calls["iot:ListCACertificates"] == 1
    assert local_aws.writes() == {}
    register_default(iot, make_ca("counted"))
    assert local_aws.writes() == {"iot:RegisterCACertificate": 1}


def test_sts_assume_role_lands_in_the_roles_account(local_aws: LocalAws) -> None:
    for account in (ACCOUNT_A, ACCOUNT_B):
        assert client_in(local_aws, "sts", account).get_caller_identity()["Account"] == account
