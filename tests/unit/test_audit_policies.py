"""`fleet audit`'s policy checks, on the documents of Device Defender's own pages (noncompliant and compliant)
and on the near misses a reviewer would worry about."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.audit import policies
from fleet.audit.findings import Location, Place, Severity
from fleet.audit.inventory import PolicyRecord
from tests.audit_support import SOUND_POLICY, audit, small_fleet
from tests.conftest import Manifests

PROD = Place("prod", "111111111111", "us-east-1")
ARN = "arn:aws:iot:us-east-1:111111111111:"


def findings_of(*statements: dict[str, Any]) -> list[tuple[str, str]]:
    record = PolicyRecord(
        "p",
        {"Version": "2012-10-17", "Statement": list(statements)},
        (PROD,),
        Location("policies/p.json", 1),
        tuple(range(10, 10 + len(statements))),
    )
    return sorted((f.check, f.reason_code) for f in policies.check((record,)))


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str]) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


BROAD = [("IOT_POLICY_OVERLY_PERMISSIVE_CHECK", "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS")]


# Device Defender's noncompliant examples (audit-chk-iot-policy-permissive.html), and iot:* on * (issue 25).
@pytest.mark.parametrize(
    "statement",
    [
        allow("iot:*", "*"),
        allow("*", "*"),
        allow("iot:Connect", ARN + "client/*"),
        allow("iot:Connect", ARN + "client/${iot:ClientId}"),
        allow("iot:Publish", ARN + "topic/$aws/things/*/shadow/update"),
        allow("iot:Publish", ARN + "topic/$aws/things/*"),
        allow("iot:Subscribe", ARN + "topicfilter/$aws/things/*"),
        allow("iot:Subscribe", ARN + "topicfilter/$aws/things/+/shadow/update"),
        allow("iot:Subscribe", ARN + "topicfilter/$aws/things/#"),
        allow("iot:UpdateThingShadow", ARN + "thing/*"),
        allow("iot:Get*", ARN + "thing/*"),
        allow(["iot:Publish", "iot:Receive"], "arn:aws:iot:*:*:topic/*"),
        # the other reserved topics of a shadow, named shadows, and a job's
        allow("iot:Publish", ARN + "topic/$aws/things/*/shadow/delete"),
        allow("iot:Publish", ARN + "topic/$aws/things/*/shadow/name/*/update"),
        allow("iot:Subscribe", ARN + "topicfilter/$aws/things/*/shadow/name/*/update/accepted"),
        allow("iot:Subscribe", ARN + "topicfilter/$aws/things/*/jobs/*"),
        # conditions that do not say who the device is: every device that meets them reaches every other's data
        allow("iot:*", "*", Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
        allow("iot:*", "*", Condition={"Bool": {"iot:Connection.Thing.IsAttached": "true"}}),  # limits Connect only
        allow(
            "iot:Publish",
            ARN + "topic/$aws/things/*/shadow/update",
            Condition={"Bool": {"aws:SecureTransport": "true"}},
        ),
    ],
)
def test_device_defenders_noncompliant_examples_are_overly_permissive(statement: dict[str, Any]) -> None:
    assert findings_of(statement) == BROAD


# Its compliant examples, and near misses: the device's own resources only.
@pytest.mark.parametrize(
    "statements",
    [
        [
            allow(
                "iot:Connect",
                ARN + "client/${iot:Connection.Thing.ThingName}",
                Condition={"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            )
        ],
        [
            allow(
                "iot:Connect",
                ARN + "client/${iot:ClientId}",
                Condition={"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            )
        ],
        [allow("iot:Connect", ARN + "client/${iot:Connection.Thing.ThingName}")],
        [allow("iot:Publish", ARN + "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*")],
        [
            allow(
                "iot:Subscribe",
                [
                    ARN + "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/*",
                    ARN + "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
                ],
            )
        ],
        [allow("iot:Receive", ARN + "topic/$aws/things/*")],  # compliant: a device receives only what it may subscribe
        # near misses of the shadow and job topics: the device's own, named shadows included
        [allow("iot:Publish", ARN + "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/delete")],
        [allow("iot:Publish", ARN + "topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/*/update")],
        [allow("iot:Subscribe", ARN + "topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*")],
        [allow("iot:UpdateThingShadow", [ARN + "thing/MyThing1", ARN + "thing/MyThing2"])],
        [allow("iot:Publish", ARN + "topic/telemetry/${iot:ClientId}")],
        [allow("iot:Connect", "arn:aws:iot:eu-west-1:111111111111:client/*")],  # another region's clients
        [allow("iot:*", "*"), deny("iot:*", "*")],  # everything allowed is denied
        [allow("iot:Connect", "*", Condition={"Bool": {"iot:Connection.Thing.IsAttached": ["true"]}})],
        # conditioned on who the device is: fleet does not evaluate such conditions, and reports nothing
        [
            allow(
                "iot:Publish",
                ARN + "topic/$aws/things/*/shadow/update",
                Condition={"StringEquals": {"iot:Connection.Thing.ThingName": "sensor-1"}},
            )
        ],
        [allow("iot:*", "*", Condition={"StringLike": {"iot:ClientId": "sensor-*"}})],
        [allow("iot:*", "*", Condition=["not", "a", "condition"])],
    ],
)
def test_policies_limited_to_the_devices_own_resources_are_not(statements: list[dict[str, Any]]) -> None:
    assert findings_of(*statements) == []


def test_the_finding_names_the_statement_and_what_it_allows() -> None:
    record = PolicyRecord(
        "p",
        {
            "Version": "2012-10-17",
            "Statement": [allow("iot:Connect", ARN + "client/${iot:Connection.Thing.ThingName}"), allow("iot:*", "*")],
        },
        (PROD,),
        Location("policies/p.json", 3),
        (4, 8),
    )
    [finding] = policies.check((record,))
    assert finding.severity == Severity.CRITICAL and finding.resource == "policy:p"
    assert finding.location == Location("policies/p.json", 8)  # the statement's line in the document
    assert "Statement[1] lets a device connect with any client ID" in finding.message
    assert "update any device's shadow" in finding.message


# IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK (audit-chk-iot-misconfigured-policies.html).
def test_a_deny_with_an_mqtt_wildcard_is_potentially_misconfigured() -> None:
    assert findings_of(
        allow("iot:Subscribe", ARN + "topicfilter/building/*"),
        deny("iot:Subscribe", ARN + "topicfilter/building/control_room/#"),
        allow("iot:Receive", ARN + "topic/building/*"),
    ) == [("IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK", "POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT")]


def test_a_deny_that_a_wider_mqtt_filter_gets_around_is_potentially_misconfigured() -> None:
    assert findings_of(
        allow("iot:Subscribe", ARN + "topicfilter/building/*"),
        deny("iot:Subscribe", ARN + "topicfilter/building/control_room/*"),
        allow("iot:Receive", ARN + "topic/building/*"),
    ) == [("IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK", "TOPIC_FILTERS_INTENDED_TO_DENY_ALLOWED_USING_WILDCARDS")]


def test_the_documented_correct_policy_is_not() -> None:
    """The page's correct version: the device may neither subscribe to nor receive building/control_room/*."""
    assert (
        findings_of(
            allow("iot:Subscribe", ARN + "topicfilter/building/*"),
            deny("iot:Subscribe", ARN + "topicfilter/building/control_room/*"),
            allow("iot:Receive", ARN + "topic/building/*"),
            deny("iot:Receive", ARN + "topic/building/control_room/*"),
        )
        == []
    )


def test_an_mqtt_wildcard_in_an_allow_is_not_a_misconfigured_deny() -> None:
    assert findings_of(allow("iot:Subscribe", ARN + "topicfilter/building/${iot:ClientId}/#")) == []


def test_a_deny_with_no_wider_subscription_allowed_is_not() -> None:
    assert (
        findings_of(
            allow("iot:Subscribe", ARN + "topicfilter/building/lobby/*"),
            deny("iot:Subscribe", ARN + "topicfilter/building/control_room/*"),
            allow("iot:Receive", ARN + "topic/building/*"),
        )
        == []
    )


# Through the manifests: per account and region, at the document's line.
def test_a_permissive_policy_in_the_manifests_is_located_in_its_document(manifests: Manifests) -> None:
    permissive = {
        "Version": "2012-10-17",
        "Statement": [SOUND_POLICY["Statement"][0], {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
    small_fleet(manifests, policy=permissive)
    [finding] = audit(manifests)
    assert finding.check == "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
    assert finding.location.file == "manifests/telemetry.json"
    lines = json.dumps(permissive, indent=2).splitlines()
    assert finding.location.line == [n for n, line in enumerate(lines, start=1) if line == "    {"][1]
    assert {p.region for p in finding.places} == {"us-east-1", "eu-west-1"}
