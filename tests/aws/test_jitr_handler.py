"""The just-in-time activation handler (fleet.jitr.handler), called with the
event AWS IoT publishes on $aws/events/certificates/registered/<caCertificateId>
(payload as documented in developerguide/auto-register-device-cert.html),
against the local endpoint: it activates and attaches the policy only when
fleet.jitr.activation allows, the certificate is REVOKED in no other account and
region, and it could read everything it needed; otherwise it activates
nothing and says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devtools.endpoint import LocalAws
from devtools.pki import Issued, issue, make_crl
from fleet.aws.registrations import Registrations
from fleet.crypto import pki
from fleet.jitr.handler import Configuration, Undecided, handle, handler
from tests.conftest import Manifests, client_in, load_manifests
from tests.jitr_support import config_of, records_on, registration_event
from tests.unit.test_device_manifests import ACCOUNTS
from tests.unit.test_jitr_manifests import ENABLED, REGIONS, write

PROD, STAGING = "111111111111", "222222222222"
STAGING_ACCOUNT = """\
  staging:
    id: "222222222222"
    deployer_role_arn: arn:aws:iam::222222222222:role/fleet-deployer
    regions: [us-east-1, eu-west-1]
"""


@pytest.fixture
def setup(manifests: Manifests, local_aws: LocalAws) -> tuple[Any, Manifests, str]:
    write(manifests, None, ENABLED)
    manifests.text("accounts.yaml", ACCOUNTS + STAGING_ACCOUNT)  # a second account: read through its reader role
    root = manifests.cas["root"]
    iot = client_in(local_aws, "iot", PROD)
    ca_id = iot.register_ca_certificate(
        caCertificate=root.cert_pem, certificateMode="SNI_ONLY", setAsActive=True, allowAutoRegistration=True
    )["certificateId"]
    iot.create_policy(policyName="telemetry", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    return iot, manifests, ca_id


def connect(iot: Any, device: Issued, ca: Issued) -> dict[str, Any]:
    """What AWS does at a device's first connection: register it pending, publish the event."""
    reply = iot.register_certificate(
        certificatePem=device.cert_pem, caCertificatePem=ca.cert_pem, status="PENDING_ACTIVATION"
    )
    described = iot.describe_certificate(certificateId=reply["certificateId"])["certificateDescription"]
    return registration_event(reply["certificateId"], described["caCertificateId"], PROD)


def config_for(manifests: Manifests, revoked: frozenset[str] = frozenset()) -> Configuration:
    return config_of(load_manifests(manifests, REGIONS), revoked)


def status_and_policies(iot: Any, certificate_id: str) -> tuple[str, list[str]]:
    description = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
    policies = iot.list_attached_policies(target=description["certificateArn"])["policies"]
    return description["status"], [p["policyName"] for p in policies]


def test_the_handler_activates_a_good_registration_and_attaches_the_policy(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    iot, manifests, _ = setup
    event = connect(iot, issue(manifests.cas["root"], "device-1"), manifests.cas["root"])
    # The Lambda runtime: its own credentials and region, its configuration beside it.
    config = config_for(manifests)
    (tmp_path / "fleet-jitr.json").write_text(
        json.dumps(
            {"version": 1, "placements": config.placements, "revoked": sorted(config.revoked), "places": config.places}
        )
    )
    monkeypatch.setenv("FLEET_JITR_CONFIG", str(tmp_path / "fleet-jitr.json"))
    credentials = boto3.client("sts", endpoint_url=local_aws.url, region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{PROD}:role/fleet-jitr-us-east-1", RoleSessionName="lambda"
    )["Credentials"]
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    boto3.setup_default_session()  # a fresh Lambda process reads its environment anew

    result = handler(event)

    assert result == {
        "certificateId": event["certificateId"],
        "activated": True,
        "reason": "signed by the CA, revoked nowhere, not on its revocation list",
    }
    assert status_and_policies(iot, event["certificateId"]) == ("ACTIVE", ["telemetry"])


def test_every_other_place_is_read_before_activating_and_another_account_through_its_reader_role(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws
) -> None:
    iot, manifests, _ = setup
    event = connect(iot, issue(manifests.cas["root"], "device-9"), manifests.cas["root"])
    asked: list[str] = []
    result = handle(event, config_for(manifests), "us-east-1", records_on(local_aws, asked))
    assert result["activated"]
    # Its own place with its own credentials; prod's other region too; staging through the reader role.
    assert sorted(asked) == [
        f"{PROD}/eu-west-1:",
        f"{PROD}/us-east-1:",
        f"{STAGING}/eu-west-1:arn:aws:iam::{STAGING}:role/fleet-jitr-reader",
        f"{STAGING}/us-east-1:arn:aws:iam::{STAGING}:role/fleet-jitr-reader",
    ]


def test_a_certificate_revoked_in_another_account_is_refused_though_the_configuration_does_not_know(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws
) -> None:
    iot, manifests, _ = setup
    device = issue(manifests.cas["root"], "stolen")
    client_in(local_aws, "iot", STAGING, "eu-west-1").register_certificate_without_ca(
        certificatePem=device.cert_pem, status="REVOKED"
    )  # AWS's record, a memory the configuration lacks
    event = connect(iot, device, manifests.cas["root"])
    result = handle(event, config_for(manifests), "us-east-1", records_on(local_aws))
    assert result["reason"] == f"it is REVOKED in account {STAGING}, eu-west-1 (AWS's record)"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_a_place_it_cannot_read_leaves_the_certificate_pending_and_says_why(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws, capsys: pytest.CaptureFixture[str]
) -> None:
    iot, manifests, _ = setup
    event = connect(iot, issue(manifests.cas["root"], "device-7"), manifests.cas["root"])
    reachable = records_on(local_aws)
    unreachable = boto3.client(
        "iot",
        endpoint_url="http://127.0.0.1:9",
        region_name="eu-west-1",  # nothing listens
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )

    def records(account_id: str, region: str, role: str) -> Registrations:
        if (account_id, region) == (STAGING, "eu-west-1"):
            return Registrations(unreachable, f"account {account_id}, {region}")
        return reachable(account_id, region, role)

    with pytest.raises(Undecided, match="could not read every account and region"):
        handle(event, config_for(manifests), "us-east-1", records)
    logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not logged["activated"]
    assert logged["reason"].startswith(
        "refused, undecided: it could not read every account and region of its "
        f"configuration: reading certificate {event['certificateId']} in account "
        f"{STAGING}, eu-west-1: AWS could not be reached"
    )
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_an_unreadable_configuration_activates_nothing_and_says_why(
    setup: tuple[Any, Manifests, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    iot, manifests, _ = setup
    event = connect(iot, issue(manifests.cas["root"], "device-8"), manifests.cas["root"])
    for text in ("{not json", json.dumps({"version": 0}), None):
        path = tmp_path / f"config-{len(str(text))}.json"
        if text is not None:
            path.write_text(text)
        monkeypatch.setenv("FLEET_JITR_CONFIG", str(path))
        with pytest.raises(Undecided, match="its configuration cannot be read"):
            handler(event)
        assert "refused, undecided: its configuration cannot be read" in capsys.readouterr().out
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_a_certificate_on_the_revocation_list_stays_pending(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws
) -> None:
    iot, manifests, _ = setup
    root = manifests.cas["root"]
    stolen = issue(root, "stolen")
    (manifests.root / "pki" / "root.crl").write_bytes(make_crl(root, [stolen]))
    manifests.text(
        "cas.yaml",
        (manifests.root / "cas.yaml")
        .read_text()
        .replace("    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n"),
    )
    event = connect(iot, stolen, root)
    result = handle(event, config_for(manifests), "us-east-1", records_on(local_aws))
    assert not result["activated"] and "on the CA's revocation list" in result["reason"]
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_a_certificate_revoked_in_the_ledger_stays_pending(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws
) -> None:
    iot, manifests, _ = setup
    device = issue(manifests.cas["root"], "device-2")
    event = connect(iot, device, manifests.cas["root"])
    config = config_for(manifests, frozenset({pki.certificate_id(device.cert)}))
    result = handle(event, config, "us-east-1", records_on(local_aws))
    assert result["reason"] == "it is revoked (by the revocation ledger, in AWS or in the manifests)"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_an_event_for_a_ca_without_auto_activation_changes_nothing(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws
) -> None:
    iot, manifests, ca_id = setup
    event = connect(iot, issue(manifests.cas["root"], "device-3"), manifests.cas["root"])
    config = config_for(manifests)
    result = handle(event, Configuration({}, config.revoked, config.places), "us-east-1", records_on(local_aws))
    assert result["reason"] == f"no auto_activation for CA {ca_id} in {PROD}/us-east-1"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_an_event_that_names_another_ca_changes_nothing(setup: tuple[Any, Manifests, str], local_aws: LocalAws) -> None:
    iot, manifests, ca_id = setup
    event = connect(iot, issue(manifests.cas["root"], "device-4"), manifests.cas["root"])
    config = config_for(manifests)
    key = f"{PROD}/us-east-1/{ca_id}"
    other = "f" * 64
    moved = Configuration({key.replace(ca_id, other): config.placements[key]}, config.revoked, config.places)
    result = handle({**event, "caCertificateId": other}, moved, "us-east-1", records_on(local_aws))
    assert result["reason"] == "it is registered under another CA"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])


def test_a_malformed_event_is_refused_by_name(setup: tuple[Any, Manifests, str], local_aws: LocalAws) -> None:
    _, manifests, _ = setup
    with pytest.raises(ValueError, match="missing caCertificateId, awsAccountId"):
        handle(
            {"certificateId": "x", "certificateStatus": "PENDING_ACTIVATION"},
            config_for(manifests),
            "us-east-1",
            records_on(local_aws),
        )


def test_nothing_is_activated_under_a_ca_deactivated_in_aws(
    setup: tuple[Any, Manifests, str], local_aws: LocalAws
) -> None:
    iot, manifests, ca_id = setup
    event = connect(iot, issue(manifests.cas["root"], "device-5"), manifests.cas["root"])
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE")  # say, found compromised
    result = handle(event, config_for(manifests), "us-east-1", records_on(local_aws))
    assert result["reason"] == "the CA is INACTIVE"
    assert status_and_policies(iot, event["certificateId"]) == ("PENDING_ACTIVATION", [])
