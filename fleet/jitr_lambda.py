"""The just-in-time registration decision as an AWS Lambda handler.

Subscribe it (an IoT rule, ``SELECT * FROM '$aws/events/certificates/registered/<caCertificateId>'``)
to the event AWS IoT publishes when a device's certificate is registered
PENDING_ACTIVATION under a CA with auto-registration:
https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html

    {"certificateId": "<id>", "caCertificateId": "<CA id>", "timestamp": "<ms>",
     "certificateStatus": "PENDING_ACTIVATION", "awsAccountId": "<account>",
     "certificateRegistrationTimestamp": "<ms>"}

It makes the same decision as `pulumi up` (fleet.activation), from a
configuration `fleet jitr-config` writes (the CA placements with
auto_activation, their revocation lists and policies, and every certificate
revoked in the manifests or in AWS), packaged beside the handler or named
by FLEET_JITR_CONFIG. It needs iot:DescribeCertificate, iot:DescribeCACertificate,
iot:AttachPolicy and iot:UpdateCertificate. Regenerate the configuration when
the manifests change (a revocation anywhere, a new CRL): the handler knows
only what it was given, besides the CA's status in AWS.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from fleet.activation import decide

EVENT_FIELDS = ("certificateId", "caCertificateId", "certificateStatus", "awsAccountId")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    import boto3

    return handle(event, boto3.client("iot"), _config())


@functools.cache
def _config() -> dict[str, Any]:
    """Read once per Lambda container, not once per event."""
    path = Path(os.environ.get("FLEET_JITR_CONFIG", Path(__file__).with_name("fleet-jitr.json")))
    return dict(json.loads(path.read_text(encoding="utf-8")))


def placement_key(account_id: str, region: str, ca_certificate_id: str) -> str:
    return f"{account_id}/{region}/{ca_certificate_id}"


def handle(event: dict[str, Any], iot: Any, config: dict[str, Any]) -> dict[str, Any]:
    missing = [name for name in EVENT_FIELDS if name not in event]
    if missing:
        raise ValueError(f"not a certificate registration event: missing {', '.join(missing)}")
    certificate_id, ca_id = event["certificateId"], event["caCertificateId"]
    key = placement_key(event["awsAccountId"], iot.meta.region_name, ca_id)
    placement = config["placements"].get(key)
    if placement is None:
        return _result(certificate_id, False, f"no auto_activation for CA {ca_id} in {key.rsplit('/', 1)[0]}")
    try:
        description = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
    except iot.exceptions.ResourceNotFoundException:
        return _result(certificate_id, False, "it is no longer registered")
    if description.get("caCertificateId") != ca_id:
        return _result(certificate_id, False, "it is registered under another CA")
    ca_in_aws = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]["status"]
    ca_status = placement["status"] if ca_in_aws == "ACTIVE" else ca_in_aws
    verdict = decide(description["certificatePem"], description["status"], placement["certificate_pem"], ca_status,
                     placement.get("crl_pem"), set(config["revoked"]))
    if verdict.activate:
        for policy in placement["policies"]:
            iot.attach_policy(policyName=policy, target=description["certificateArn"])
        iot.update_certificate(certificateId=certificate_id, newStatus="ACTIVE")
    return _result(certificate_id, verdict.activate, verdict.reason)


def _result(certificate_id: str, activated: bool, reason: str) -> dict[str, Any]:
    result = {"certificateId": certificate_id, "activated": activated, "reason": reason}
    print(json.dumps(result, sort_keys=True))  # one line per decision in the function's log
    return result


def configuration(fleet: Any, revoked: set[str]) -> dict[str, Any]:
    """What the handler needs: `fleet jitr-config`. ``revoked``: fleet.drift.revoked_everywhere."""
    placements = {
        placement_key(p.account_id, p.region, p.certificate_id): {
            "ca": p.ca, "status": p.status, "certificate_pem": p.certificate_pem, "crl_pem": p.crl_pem,
            "policies": list(p.activation_policies or []),
        }
        for p in fleet.ca_placements if p.activation_policies is not None
    }
    return {"placements": placements, "revoked": sorted(revoked)}
