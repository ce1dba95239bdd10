"""The local endpoint started with ``--accept-access-key`` (as `fleet local` starts it) refuses
credentials it did not issue, as AWS refuses an unknown access key, instead of answering them as
moto's default account: credentials of an endpoint that has ended never read an empty account."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devtools.endpoint import LocalAws

KEY = {"aws_access_key_id": "accepted-key", "aws_secret_access_key": "accepted-secret"}
HINT = "Run `source .fleet-local/env` again."
ROLE = "arn:aws:iam::111111111111:role/fleet-deployer"


@pytest.fixture(scope="module")
def strict() -> Iterator[LocalAws]:
    with LocalAws(options=("--accept-access-key", KEY["aws_access_key_id"], "--refusal-hint", HINT)) as server:
        yield server


def client(endpoint: LocalAws, service: str, **credentials: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint.url, region_name="us-east-1", **(credentials or KEY))


def assumed(endpoint: LocalAws) -> dict[str, str]:
    """Credentials of the deployer role, as the endpoint's STS issues them to the accepted key."""
    found = client(endpoint, "sts").assume_role(RoleArn=ROLE, RoleSessionName="test")["Credentials"]
    return {
        "aws_access_key_id": found["AccessKeyId"],
        "aws_secret_access_key": found["SecretAccessKey"],
        "aws_session_token": found["SessionToken"],
    }


def refused(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_the_accepted_key_and_what_this_endpoints_sts_issued_are_served(strict: LocalAws) -> None:
    assert client(strict, "iot").list_ca_certificates()["certificates"] == []
    mine = assumed(strict)
    assert client(strict, "sts", **mine).get_caller_identity()["Account"] == "111111111111"
    assert client(strict, "iot", **mine).list_certificates()["certificates"] == []


def test_credentials_an_ended_endpoint_issued_are_refused_with_the_hint(strict: LocalAws) -> None:
    with LocalAws() as earlier:
        stale = assumed(earlier)
    code, message, status = refused(lambda: client(strict, "iot", **stale).list_ca_certificates())
    assert (code, status) == ("UnrecognizedClientException", 403)
    assert message == (
        "The security token included in the request is invalid: this local endpoint did not issue "
        f"access key {stale['aws_access_key_id']} (credentials of an endpoint that has ended, with "
        f"everything it held?). {HINT}"
    )
    code, message, status = refused(lambda: client(strict, "sts", **stale).get_caller_identity())
    assert (code, status) == ("InvalidClientTokenId", 403) and message.endswith(HINT)
    assert refused(lambda: client(strict, "s3", **stale).list_buckets())[0] == "InvalidAccessKeyId"
    assert (
        refused(
            lambda: client(strict, "iot", aws_access_key_id="other", aws_secret_access_key="x").list_ca_certificates()
        )[0]
        == "UnrecognizedClientException"
    )


def test_plain_moto_answers_such_credentials_as_another_account() -> None:
    """Why the option exists: without it, stale credentials land in moto's default account."""
    with LocalAws() as earlier:
        stale = assumed(earlier)
    with LocalAws() as lenient:
        assert client(lenient, "sts", **stale).get_caller_identity()["Account"] == "123456789012"


def test_the_endpoint_ends_when_its_standard_input_closes_and_frees_its_port() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "localaws", "--port", "0", "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    port = int(process.stdout.readline().rsplit(":", 1)[1])
    process.stdin.close()  # what the death of the process that started it does, however it died
    assert process.wait(timeout=10) == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nothing holds it
