"""The local endpoint's fault injection (localaws.faults) does what each fault says, as boto3 sees it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from devtools.endpoint import LocalAws

DOCUMENT = '{"Version": "2012-10-17", "Statement": []}'


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws() as server:
        yield server


@pytest.fixture
def iot(aws: LocalAws) -> Any:
    aws.reset()
    return boto3.client(
        "iot",
        region_name="us-east-1",
        endpoint_url=aws.url,
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"total_max_attempts": 1}),
    )


def policies(iot: Any) -> list[str]:
    return [p["policyName"] for p in iot.list_policies()["policies"]]


@pytest.mark.parametrize(
    ("kind", "code"), [("throttle", "ThrottlingException"), ("error", "ServiceUnavailableException")]
)
def test_an_error_answer_and_nothing_done(aws: LocalAws, iot: Any, kind: str, code: str) -> None:
    aws.arm_faults({"kind": kind, "path": "^/policies/"})
    with pytest.raises(ClientError) as raised:
        iot.create_policy(policyName="p", policyDocument=DOCUMENT)
    assert raised.value.response["Error"]["Code"] == code
    assert policies(iot) == []  # reads pass: the rule is for writes
    assert aws.faults_injected() == {kind: 1}


@pytest.mark.parametrize(("kind", "applied"), [("reset-before", False), ("reset-after", True)])
def test_a_reset_connection_before_or_after_the_write_happened(
    aws: LocalAws, iot: Any, kind: str, applied: bool
) -> None:
    aws.arm_faults({"kind": kind, "path": "^/policies/"})
    with pytest.raises(ConnectionClosedError):
        iot.create_policy(policyName="p", policyDocument=DOCUMENT)
    assert policies(iot) == (["p"] if applied else [])


def test_after_every_and_times_pick_which_requests(aws: LocalAws, iot: Any) -> None:
    aws.arm_faults({"kind": "error", "path": "^/policies/", "after": 1, "every": 2, "times": 2})
    outcomes = []
    for n in range(7):
        try:
            iot.create_policy(policyName=f"p{n}", policyDocument=DOCUMENT)
            outcomes.append("ok")
        except ClientError:
            outcomes.append("fault")
    assert outcomes == ["ok", "fault", "ok", "fault", "ok", "ok", "ok"]
    assert aws.faults_by_rule() == [2]


def test_a_rule_with_a_region_fails_that_region_only(aws: LocalAws, iot: Any) -> None:
    """An account and region that cannot be reached, while the others answer."""
    aws.arm_faults({"kind": "error", "requests": "all", "region": "eu-west-1"})
    assert policies(iot) == []  # us-east-1
    west = boto3.client(
        "iot",
        region_name="eu-west-1",
        endpoint_url=aws.url,
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as raised:
        policies(west)
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailableException"


def test_an_outage_fails_everything_until_it_is_over(aws: LocalAws, iot: Any) -> None:
    aws.arm_faults({"kind": "outage", "service": "*", "requests": "all", "seconds": 1.5})
    start = time.monotonic()
    failures = 0
    while True:
        try:
            iot.list_policies()
            break
        except (ClientError, ConnectionClosedError):
            failures += 1
            time.sleep(0.1)
    assert failures >= 5 and 1.4 <= time.monotonic() - start < 5
    assert set(aws.faults_injected()) == {"outage:error", "outage:reset-before"}  # both ways an outage looks


def test_a_bad_rule_is_refused(aws: LocalAws) -> None:
    with pytest.raises(Exception, match="400"):
        aws.arm_faults({"kind": "flood"})
