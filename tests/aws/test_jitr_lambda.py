"""The just-in-time registration Lambda handler (fleet.jitr_lambda), called with
the event AWS IoT publishes on $aws/events/certificates/registered/<caCertificateId>
(payload as documented in developerguide/auto-register-device-cert.html),
against the local endpoint: it activates and attaches the policy only when
fleet.activation allows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.endpoint import LocalAws
from devtools.pki import Issued, issue, make_crl
from fleet import pki
from fleet.jitr_lambda import configuration, handle, handler
from fleet.resources import revoked_everywhere
from fleet.survey import Survey
from tests.conftest import Manifests, client_in, load_manifests
from tests.unit.test_jitr_manifests import ENABLED, REGIONS, write

PROD = "111111111111"


@pytest.fixture
def setup(manifests: Manifests, local_aws: LocalAws) -> tuple[Any, Manifests, str]:
    write(manifests, None, ENABLED)
    root = manifests.cas["root"]
    iot = client_in(local_aws, "iot", PROD)
    ca_id = iot.register_ca_certificate(caCertificate=root.cert_pem, certificateMode="SNI_ONLY", setAsActive=True,
                                        allowAutoRegistration=True)["certificateId"]
    iot.create_policy(policyName="telemetry", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    return iot, manifests, ca_id


def connect(iot: Any, device: Issued, ca: Issued) -> dict[str, Any]:
    """What AWS does at a device's first connection: register it pending, publish the event."""
    reply = iot.register_certificate(certificatePem=device.cert_pem, caCertificatePem=ca.cert_pem,
                                     status="PENDING_ACTIVATION")
    described = iot.describe_certificate(certificateId=reply["certificateId"])["certificateDescription"]
    return {
        "certificateId": reply["certificateId"],
        "caCertificateId": described["caCertificateId"],
        "timestamp": 1763900000000,
        "certificateStatus": "PENDING_ACTIVATION",
        "awsAccountId": PROD,
        "certificateRegistrationTimestamp": "1763900000000",
    }


def config_for(manifests: Manifests, revoked: frozenset[str] = frozenset()) -> dict[str, Any]:
    fleet = load_manifests(manifests, REGIONS)
    return configuration(fleet, revoked_everywhere(fleet, Survey({})) | revoked)


def status_and_policies(iot: Any, certificate_id: str) -> tuple[str, list[str]]:
    description = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
    policies = iot.list_attached_policies(target=description["certificateArn"])["policies"]
    return description["status"], [p["policyName"] for p in policies]


def test_the_handler_activates_a_good_registration_and_attaches_the_policy(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    iot, manifests, _ = setup
    event = connect(iot, issue(manifests.cas["root"], "device-1"), manifests.cas["root"])
    # The Lambda runtime: its own credentials and region, a config file beside it.
    (tmp_path / "fleet-jitr.json").write_text(json.dumps(config_for(manifests)))
    monkeypatch.setenv("FLEET_JITR_CONFIG", str(tmp_path / "fleet-jitr.json"))
    credentials = boto3.client("sts", endpoint_url=local_aws.url, region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{PROD}:role/jitr-lambda", RoleSessionName="lambda")["Credentials"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])

    boto3.setup_default_session()  # a fresh Lambda process reads its environment anew

    result = handler(event)

    assert result == {"certificateId": event["certificateId"], "activated": True,
                      "reason": "signed by the CA, revoked nowhere, not on its revocation list"}
    assert status_and_policies(iot, event["certificateId"]) == ("ACTIVE", ["telemetry"])


def test_a_certificate_on_the_revocation_list_stays_pending(setup: tuple[Any, Manifests, str]) -> None:
    iot, manifests, _ = setup
    root = manifests.cas["root"]
    stolen = issue(root, "stolen")
    (manifests.root / "pki" / "root.crl").write_bytes(make_crl(root, [stolen]))
    manifests.text("cas.yaml", (manifests.root / "cas.yaml").read_text().replace(
        "    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n"))
    event = connect(iot, stolen, root)
    result = handle(event, iot, config_for(manifests))
    assert not result["activated"] and "on the CA's revocation list" in result["reason"]
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_a_certificate_revoked_elsewhere_stays_pending(setup: tuple[Any, Manifests, str]) -> None:
    iot, manifests, _ = setup
    device = issue(manifests.cas["root"], "device-2")
    event = connect(iot, device, manifests.cas["root"])
    result = handle(event, iot, config_for(manifests, frozenset({pki.certificate_id(device.cert)})))
    assert result["reason"] == "it is revoked (by the revocation ledger, in AWS or in the manifests)"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_an_event_for_a_ca_without_auto_activation_changes_nothing(setup: tuple[Any, Manifests, str]) -> None:
    iot, manifests, ca_id = setup
    event = connect(iot, issue(manifests.cas["root"], "device-3"), manifests.cas["root"])
    config = config_for(manifests)
    config["placements"] = {}
    result = handle(event, iot, config)
    assert result["reason"] == f"no auto_activation for CA {ca_id} in {PROD}/us-east-1"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_an_event_that_names_another_ca_changes_nothing(setup: tuple[Any, Manifests, str]) -> None:
    iot, manifests, ca_id = setup
    event = connect(iot, issue(manifests.cas["root"], "device-4"), manifests.cas["root"])
    config = config_for(manifests)
    key = f"{PROD}/us-east-1/{ca_id}"
    other = "f" * 64
    config["placements"] = {key.replace(ca_id, other): config["placements"][key]}
    result = handle({**event, "caCertificateId": other}, iot, config)
    assert result["reason"] == "it is registered under another CA"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_a_malformed_event_is_refused_by_name(setup: tuple[Any, Manifests, str]) -> None:
    iot, manifests, _ = setup
    with pytest.raises(ValueError, match="missing caCertificateId, awsAccountId"):
        handle({"certificateId": "x", "certificateStatus": "PENDING_ACTIVATION"}, iot, config_for(manifests))


def test_nothing_is_activated_under_a_ca_deactivated_in_aws(setup: tuple[Any, Manifests, str]) -> None:
    iot, manifests, ca_id = setup
    event = connect(iot, issue(manifests.cas["root"], "device-5"), manifests.cas["root"])
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")  # say, found compromised
    result = handle(event, iot, config_for(manifests))
    assert result["reason"] == "the CA is INACTIVE"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])
