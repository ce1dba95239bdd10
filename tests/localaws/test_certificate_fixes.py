"""Each fix fleet makes to moto's IoT device-certificate and policy calls holds
on the local endpoint, and fails on plain moto 5.2.5."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from devtools.pki import issue, make_ca
from tests.localaws.support import ACCOUNT_A, error_code, fix_tests, register_default

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
)


def device_under_ca(iot: Any) -> tuple[str, str]:
    """Register a CA and a device certificate it signed; return (ca id, device id)."""
    ca = make_ca("issuer")
    ca_id = register_default(iot, ca)
    device = issue(ca, "device-1")
    reply = iot.register_certificate(certificatePem=device.cert_pem, caCertificatePem=ca.cert_pem, setAsActive=True)
    return ca_id, str(reply["certificateId"])


# API_UpdateCertificate.html, developerguide/revoke.html: revocation is final.
def keeps_revoked_certificates_revoked(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    _, device_id = device_under_ca(iot)
    iot.update_certificate(certificateId=device_id, newStatus="REVOKED")
    assert (
        error_code(lambda: iot.update_certificate(certificateId=device_id, newStatus="ACTIVE"))
        == "CertificateStateException"
    )


# API_CertificateDescription.html: lastModifiedDate moves when the status changes (fleet dates revocations by it).
def dates_a_change_of_status(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    _, device_id = device_under_ca(iot)
    registered = iot.describe_certificate(certificateId=device_id)["certificateDescription"]["lastModifiedDate"]
    time.sleep(1.1)  # the API's dates have whole seconds
    iot.update_certificate(certificateId=device_id, newStatus="REVOKED")
    revoked = iot.describe_certificate(certificateId=device_id)["certificateDescription"]["lastModifiedDate"]
    assert revoked > registered


# API_UpdateCertificate.html: PENDING_TRANSFER and PENDING_ACTIVATION are internal.
def refuses_internal_statuses(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    _, device_id = device_under_ca(iot)
    assert (
        error_code(lambda: iot.update_certificate(certificateId=device_id, newStatus="PENDING_ACTIVATION"))
        == "InvalidRequestException"
    )


# API_RegisterCertificate.html: the certificate must chain to a registered CA.
def refuses_a_certificate_signed_by_another_ca(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    registered, stranger = make_ca("registered"), make_ca("stranger")
    register_default(iot, registered)
    device = issue(stranger, "device-x")
    assert (
        error_code(
            lambda: iot.register_certificate(certificatePem=device.cert_pem, caCertificatePem=registered.cert_pem)
        )
        == "CertificateValidationException"
    )


# developerguide/register-device-cert.html: the CA must be ACTIVE.
def refuses_registration_under_an_inactive_ca(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca = make_ca("inactive")
    ca_id = register_default(iot, ca)
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")
    device = issue(ca, "device-y")
    assert (
        error_code(lambda: iot.register_certificate(certificatePem=device.cert_pem, caCertificatePem=ca.cert_pem))
        == "CertificateValidationException"
    )


# API_CertificateDescription.html: caCertificateId.
def describes_the_signing_ca(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    ca_id, device_id = device_under_ca(iot)
    assert iot.describe_certificate(certificateId=device_id)["certificateDescription"].get("caCertificateId") == ca_id


# API_DeleteCertificate.html: forceDelete deletes a certificate with policies attached.
def force_delete_leaves_no_attachment_behind(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    iot.create_policy(policyName="p", policyDocument=POLICY)
    arns = []
    for n in range(2):
        reply = iot.register_certificate_without_ca(
            certificatePem=make_ca(f"d{n}", is_ca=False).cert_pem, status="INACTIVE"
        )
        iot.attach_policy(policyName="p", target=reply["certificateArn"])
        arns.append(reply)
    iot.delete_certificate(certificateId=arns[0]["certificateId"], forceDelete=True)
    iot.delete_certificate(certificateId=arns[1]["certificateId"], forceDelete=True)  # plain moto fails here
    assert iot.list_targets_for_policy(policyName="p")["targets"] == []


# API_SetDefaultPolicyVersion.html: ResourceNotFoundException for an unknown version.
def refuses_an_unknown_default_policy_version(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    iot.create_policy(policyName="q", policyDocument=POLICY)
    assert (
        error_code(lambda: iot.set_default_policy_version(policyName="q", policyVersionId="7"))
        == "ResourceNotFoundException"
    )
    assert iot.get_policy(policyName="q")["defaultVersionId"] == "1"


# API_ListTargetsForPolicy.html: pageSize and marker / nextMarker.
def pages_policy_targets(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    iot.create_policy(policyName="paged", policyDocument=POLICY)
    for n in range(3):
        reply = iot.register_certificate_without_ca(
            certificatePem=make_ca(f"t{n}", is_ca=False).cert_pem, status="ACTIVE"
        )
        iot.attach_policy(policyName="paged", target=reply["certificateArn"])
    first = iot.list_targets_for_policy(policyName="paged", pageSize=2)
    assert len(first["targets"]) == 2 and first.get("nextMarker")
    second = iot.list_targets_for_policy(policyName="paged", pageSize=2, marker=first["nextMarker"])
    assert len(second["targets"]) == 1 and not second.get("nextMarker")


# API_CreateThing.html: the same name and configuration again succeeds, unchanged.
def creates_things_idempotently(iot_in: Callable[..., Any]) -> None:
    iot = iot_in(ACCOUNT_A)
    first = iot.create_thing(thingName="sensor-1")
    reply = iot.register_certificate_without_ca(certificatePem=make_ca("s1", is_ca=False).cert_pem, status="ACTIVE")
    iot.attach_thing_principal(thingName="sensor-1", principal=reply["certificateArn"])
    again = iot.create_thing(thingName="sensor-1")
    assert again["thingId"] == first["thingId"]
    assert iot.list_thing_principals(thingName="sensor-1")["principals"] == [reply["certificateArn"]]


CHECKS = [
    dates_a_change_of_status,
    creates_things_idempotently,
    pages_policy_targets,
    keeps_revoked_certificates_revoked,
    refuses_internal_statuses,
    refuses_a_certificate_signed_by_another_ca,
    refuses_registration_under_an_inactive_ca,
    describes_the_signing_ca,
    force_delete_leaves_no_attachment_behind,
    refuses_an_unknown_default_policy_version,
]


test_the_local_endpoint, test_plain_moto_fails_without_the_fix = fix_tests(CHECKS)
