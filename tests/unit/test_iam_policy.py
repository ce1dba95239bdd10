"""The roles' documented policies are what fleet derives from its own
declarations, and those declarations cover exactly the AWS IoT calls the code
can make."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from fleet import iam, production

REPO = Path(__file__).resolve().parents[2]
# How fleet.aws names an operation: a direct client call, its _call/_pages helpers, or a paginator.
CALLS = re.compile(r"self\._iot\.(?!get_paginator)(\w+)\(|_call\(\s*\"(\w+)\"|_pages\(\s*\"(\w+)\""
                   r"|get_paginator\(\"(\w+)\"\)")


def iot_operations_called() -> set[str]:
    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = set()
    for path in (REPO / "fleet").rglob("*.py"):
        if path.name == "jitr_lambda.py":  # the Lambda runs with a role of its own (docs, fleet.jitr_lambda)
            continue
        if path.name == "recovery.py":  # reads the Pulumi state backend's S3 bucket, with the CI job's credentials
            continue
        for match in CALLS.finditer(path.read_text()):
            called.add(f"iot:{to_api[next(name for name in match.groups() if name)]}")
    return called


def test_the_documented_policies_are_what_fleet_iam_prints() -> None:
    assert (REPO / "docs/iam-deployer-policy.json").read_text() == iam.as_text(iam.deployer_policy())
    assert (REPO / "docs/iam-reader-policy.json").read_text() == iam.as_text(iam.reader_policy())
    assert (REPO / "docs/iam-guardrail-scp.json").read_text() == iam.as_text(production.guardrail_scp())
    printed = subprocess.run([sys.executable, "-m", "fleet", "iam", "--guardrail"], capture_output=True, text=True,
                             check=True).stdout
    assert printed == iam.as_text(production.guardrail_scp())


def test_the_declared_actions_are_exactly_the_iot_calls_the_code_makes() -> None:
    called = iot_operations_called()
    assert {"iot:RegisterCACertificate", "iot:ListTargetsForPolicy"} <= called  # the scan sees the code
    assert called == iam.iot_actions()
    assert allowed(iam.deployer_policy()) == iam.iot_actions()


def test_the_lambdas_role_allows_exactly_the_calls_its_handler_makes() -> None:
    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = {f"iot:{to_api[name]}" for name in re.findall(r"\biot\.(\w+)\(", (REPO / "fleet/jitr_lambda.py")
                                                           .read_text())}
    assert called == set(iam.JITR) == allowed(iam.jitr_policy())


def allowed(policy: dict[str, Any]) -> set[str]:
    """The AWS IoT actions a policy allows (iam:PassRole is a statement of its own, a string)."""
    return {a for s in policy["Statement"] if isinstance(s["Action"], list) for a in s["Action"]}


# From the Service Authorization Reference (list_awsiot.html), "Resource types defined by AWS IoT".
ARN_FORMATS = {"cert": "arn:${Partition}:iot:${Region}:${Account}:cert/${Certificate}",
               "cacert": "arn:${Partition}:iot:${Region}:${Account}:cacert/${CACertificate}",
               "policy": "arn:${Partition}:iot:${Region}:${Account}:policy/${PolicyName}",
               "thing": "arn:${Partition}:iot:${Region}:${Account}:thing/${ThingName}"}


@pytest.mark.parametrize("policy", [iam.deployer_policy(), iam.reader_policy(), iam.jitr_policy(),
                                    iam.break_glass_policy()], ids=["deployer", "reader", "jitr", "break-glass"])
def test_each_action_is_allowed_only_on_the_resources_aws_authorizes_it_on(policy: dict[str, Any]) -> None:
    for statement in policy["Statement"]:
        if statement["Action"] == "iam:PassRole":
            assert statement["Resource"] == "arn:aws:iam::*:role/fleet-jitp"  # the JITP role, to AWS IoT only
            continue
        kinds = {iam.RESOURCE_TYPES[action] for action in statement["Action"]}
        assert len(kinds) == 1, statement
        [kind] = kinds
        assert kind is None or ARN_FORMATS[kind].startswith(f"arn:${{Partition}}:iot:${{Region}}:${{Account}}:{kind}/")
        assert statement["Resource"] == ("*" if kind is None else f"arn:aws:iot:*:*:{kind}/*"), statement
    assert set(iam.RESOURCE_TYPES) >= iam.iot_actions() | iam.JITR | iam.BREAK_GLASS


def test_fleet_iam_pins_the_account_and_region_and_refuses_what_is_neither() -> None:
    pinned = iam.deployer_policy(iam.Arns(account="111111111111", region="eu-west-1"))
    resources = {s["Sid"]: s["Resource"] for s in pinned["Statement"]}
    assert resources["FleetIoTCertificates"] == "arn:aws:iot:eu-west-1:111111111111:cert/*"
    assert resources["FleetIoTUnscoped"] == "*" and resources["PassTheJitpRoleToIot"] == \
        "arn:aws:iam::111111111111:role/fleet-jitp"
    printed = subprocess.run([sys.executable, "-m", "fleet", "iam", "--account-id", "111111111111", "--region",
                              "eu-west-1"], capture_output=True, text=True, check=True).stdout
    assert json.loads(printed) == pinned
    refused = subprocess.run([sys.executable, "-m", "fleet", "iam", "--account-id", "1111"], capture_output=True,
                             text=True, check=False)
    assert refused.returncode == 1 and "--account-id is 12 digits" in refused.stderr and not refused.stdout


def test_the_reader_policy_allows_only_reads() -> None:
    reads = allowed(iam.reader_policy())
    assert reads == {a for a in iam.iot_actions() if iam.is_read(a)}
    assert "iot:UpdateCertificate" not in reads and "iot:ListCertificates" in reads
    assert json.loads(iam.as_text(iam.reader_policy())) == iam.reader_policy()


def template_roles(template: dict[str, Any]) -> set[str]:
    """The names of the roles a template makes (their parameters' defaults)."""
    parameters = template["Parameters"]
    return {parameters[r["Properties"]["RoleName"]["Ref"]]["Default"] for r in template["Resources"].values()
            if r["Type"] == "AWS::IAM::Role"}


def test_every_role_the_guardrail_exempts_is_one_a_template_makes() -> None:
    """So the two cannot drift apart again (the guardrail once exempted a fleet-jitr no template made)."""
    scp = json.loads((REPO / "docs/iam-guardrail-scp.json").read_text())
    exempt = {arn.removeprefix("arn:aws:iam::*:role/") for s in scp["Statement"]
              for arn in s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]}
    made = template_roles(production.accounts_template())
    assert exempt <= made, exempt - made
    assert exempt == {"fleet-deployer", "fleet-jitp", "fleet-jitr", "fleet-break-glass"}  # never the reader


def test_the_guardrail_lets_only_the_deployer_delete_and_fleets_roles_change_a_status() -> None:
    """docs/iam-guardrail-scp.json, as docs/production.md recommends it."""
    statements = {s["Action"]: s for s in production.guardrail_scp()["Statement"]}
    assert set(statements) == {"iot:DeleteCertificate", "iot:UpdateCertificate"}
    assert all(s["Effect"] == "Deny" and s["Resource"] == "*" for s in statements.values())
    assert statements["iot:DeleteCertificate"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::*:role/fleet-deployer"]
    # The deployer role the example manifests name is the one exempted.
    assert ":role/fleet-deployer" in (REPO / "manifests/accounts.yaml").read_text()


def test_the_kms_actions_fleet_iam_grants_are_exactly_the_kms_calls_the_code_makes() -> None:
    from fleet.aws import kms

    to_api = boto3.client("kms", region_name="us-east-1").meta.method_to_api_mapping
    called = {f"kms:{to_api[name]}" for path in (REPO / "fleet").rglob("*.py")
              for name in re.findall(r"self\._kms\.(\w+)\(", path.read_text())}
    assert called == kms.ACTIONS == {"kms:GetPublicKey", "kms:Sign"}
    granted = iam.deployer_policy(ca_keys=["arn:aws:kms:us-east-1:111111111111:key/k"])["Statement"][-1]
    assert set(granted["Action"]) == kms.ACTIONS and granted["Resource"] == ["arn:aws:kms:us-east-1:111111111111:key/k"]
    assert iam.deployer_policy() == json.loads((REPO / "docs/iam-deployer-policy.json").read_text())  # no key named
