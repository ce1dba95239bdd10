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

from fleet.scaffold import iam, production

REPO = Path(__file__).resolve().parents[2]
# How fleet.aws names an operation: a direct client call, its _call/_pages helpers, or a paginator.
CALLS = re.compile(
    r"self\._iot\.(?!get_paginator)(\w+)\(|_call\(\s*\"(\w+)\"|_pages\(\s*\"(\w+)\""
    r"|get_paginator\(\"(\w+)\"\)"
)


def iot_operations_called() -> set[str]:
    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = set()
    for path in (REPO / "fleet").rglob("*.py"):
        if path.name == "registrations.py":  # the just-in-time function's calls: its own role (fleet.jitr.role)
            continue
        if path.name in ("functions.py", "roles.py"):  # Lambda and IAM, not IoT: the test below
            continue
        if path.name == "state_backend.py":  # reads the Pulumi state backend's S3 bucket, with the CI job's credentials
            continue
        for match in CALLS.finditer(path.read_text()):
            called.add(f"iot:{to_api[next(name for name in match.groups() if name)]}")
    return called


def test_the_documented_policies_are_what_fleet_iam_prints() -> None:
    assert (REPO / "docs/iam-deployer-policy.json").read_text() == iam.as_text(iam.deployer_policy())
    assert (REPO / "docs/iam-reader-policy.json").read_text() == iam.as_text(iam.reader_policy())
    assert (REPO / "docs/iam-guardrail-scp.json").read_text() == iam.as_text(production.guardrail_scp())
    printed = subprocess.run(
        [sys.executable, "-m", "fleet", "iam", "--guardrail"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == iam.as_text(production.guardrail_scp())


def test_the_declared_actions_are_exactly_the_iot_calls_the_code_makes() -> None:
    called = iot_operations_called()
    assert {"iot:RegisterCACertificate", "iot:ListTargetsForPolicy"} <= called  # the scan sees the code
    assert called == iam.iot_actions()
    assert allowed(iam.deployer_policy()) == iam.all_actions() - {"iam:PassRole"}  # PassRole: statements of its own


def test_the_lambdas_role_allows_exactly_the_calls_its_handler_makes() -> None:
    """The accounts template's fleet-jitr, for a handler a team deploys itself."""
    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = {
        f"iot:{to_api[name]}"
        for name in re.findall(r"self\._iot\.(\w+)\(", (REPO / "fleet/aws/registrations.py").read_text())
    }
    assert called == set(iam.JITR) == allowed(iam.jitr_policy())
    [assume] = [s for s in iam.jitr_policy()["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == "arn:aws:iam::*:role/fleet-jitr-reader"


def allowed(policy: dict[str, Any]) -> set[str]:
    """The AWS IoT actions a policy allows (iam:PassRole is a statement of its own, a string)."""
    return {a for s in policy["Statement"] if isinstance(s["Action"], list) for a in s["Action"]}


# From the Service Authorization Reference (list_awsiot.html), "Resource types defined by AWS IoT".
ARN_FORMATS = {
    "cert": "arn:${Partition}:iot:${Region}:${Account}:cert/${Certificate}",
    "cacert": "arn:${Partition}:iot:${Region}:${Account}:cacert/${CACertificate}",
    "policy": "arn:${Partition}:iot:${Region}:${Account}:policy/${PolicyName}",
    "thing": "arn:${Partition}:iot:${Region}:${Account}:thing/${ThingName}",
    "rule": "arn:${Partition}:iot:${Region}:${Account}:rule/${RuleName}",
}


@pytest.mark.parametrize(
    "policy",
    [iam.deployer_policy(), iam.reader_policy(), iam.jitr_policy(), iam.break_glass_policy()],
    ids=["deployer", "reader", "jitr", "break-glass"],
)
def test_each_action_is_allowed_only_on_the_resources_aws_authorizes_it_on(policy: dict[str, Any]) -> None:
    for statement in policy["Statement"]:
        if statement["Action"] == "iam:PassRole":  # the JITP role to AWS IoT, fleet's just-in-time roles to Lambda
            assert statement["Resource"] in ("arn:aws:iam::*:role/fleet-jitp", "arn:aws:iam::*:role/fleet-jitr-*")
            continue
        if statement["Action"] == "sts:AssumeRole":  # the handler reads records through the readers' roles
            assert statement["Resource"] == "arn:aws:iam::*:role/fleet-jitr-reader"
            continue
        if statement["Sid"].startswith("FleetJustInTime"):  # Lambda's and IAM's, on fleet's function and roles
            assert statement["Resource"] in (
                "arn:aws:lambda:*:*:function:fleet-jitr",
                "arn:aws:iam::*:role/fleet-jitr-*",
            )
            continue
        kinds = {iam.RESOURCE_TYPES[action] for action in statement["Action"]}
        assert len(kinds) == 1, statement
        [kind] = kinds
        assert kind is None or ARN_FORMATS[kind].startswith(f"arn:${{Partition}}:iot:${{Region}}:${{Account}}:{kind}/")
        name = "fleet_jitr_*" if kind == "rule" else "*"  # fleet touches its own topic rules only
        assert statement["Resource"] == ("*" if kind is None else f"arn:aws:iot:*:*:{kind}/{name}"), statement
    assert set(iam.RESOURCE_TYPES) >= iam.iot_actions() | iam.JITR | iam.BREAK_GLASS


def test_fleet_iam_pins_the_account_and_region_and_refuses_what_is_neither() -> None:
    pinned = iam.deployer_policy(iam.Arns(account="111111111111", region="eu-west-1"))
    resources = {s["Sid"]: s["Resource"] for s in pinned["Statement"]}
    assert resources["FleetIoTCertificates"] == "arn:aws:iot:eu-west-1:111111111111:cert/*"
    assert (
        resources["FleetIoTUnscoped"] == "*"
        and resources["PassTheJitpRoleToIot"] == "arn:aws:iam::111111111111:role/fleet-jitp"
    )
    printed = subprocess.run(
        [sys.executable, "-m", "fleet", "iam", "--account-id", "111111111111", "--region", "eu-west-1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(printed) == pinned
    refused = subprocess.run(
        [sys.executable, "-m", "fleet", "iam", "--account-id", "1111"], capture_output=True, text=True, check=False
    )
    assert refused.returncode == 1 and "--account-id is 12 digits" in refused.stderr and not refused.stdout


def test_the_reader_policy_allows_only_reads() -> None:
    reads = allowed(iam.reader_policy())
    assert reads == {a for a in iam.all_actions() if iam.is_read(a)}
    assert "iot:UpdateCertificate" not in reads and "iot:ListCertificates" in reads
    # What a preview reads of the just-in-time functions fleet deploys, on those only.
    jitr = {s["Sid"]: s for s in iam.reader_policy()["Statement"] if s["Sid"].startswith("FleetJustInTime")}
    assert jitr["FleetJustInTimeFunction"]["Action"] == ["lambda:GetFunctionConfiguration", "lambda:GetPolicy"]
    assert jitr["FleetJustInTimeFunction"]["Resource"] == "arn:aws:lambda:*:*:function:fleet-jitr"
    assert jitr["FleetJustInTimeRole"]["Action"] == [
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
    ]
    assert jitr["FleetJustInTimeRole"]["Resource"] == "arn:aws:iam::*:role/fleet-jitr-*"
    assert json.loads(iam.as_text(iam.reader_policy())) == iam.reader_policy()


def template_roles(template: dict[str, Any]) -> set[str]:
    """The names of the roles a template makes (their parameters' defaults)."""
    parameters = template["Parameters"]
    return {
        parameters[r["Properties"]["RoleName"]["Ref"]]["Default"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
    }


def test_every_role_the_guardrail_exempts_is_one_a_template_makes() -> None:
    """So the two cannot drift apart again (the guardrail once exempted a fleet-jitr no template made)."""
    scp = json.loads((REPO / "docs/iam-guardrail-scp.json").read_text())
    exempt = {
        arn.removeprefix("arn:aws:iam::*:role/")
        for s in scp["Statement"]
        for arn in s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    }
    made = template_roles(production.accounts_template())
    deployed = "fleet-jitr-*"  # the execution roles of the just-in-time functions fleet deploys (fleet.jitr.role)
    assert exempt - {deployed} <= made, exempt - made
    assert exempt == {"fleet-deployer", "fleet-jitp", "fleet-jitr", "fleet-break-glass", deployed}  # never a reader


def test_the_guardrail_lets_only_the_deployer_delete_and_fleets_roles_change_a_status() -> None:
    """docs/iam-guardrail-scp.json, as docs/production.md recommends it."""
    statements = {s["Action"]: s for s in production.guardrail_scp()["Statement"]}
    assert set(statements) == {"iot:DeleteCertificate", "iot:UpdateCertificate"}
    assert all(s["Effect"] == "Deny" and s["Resource"] == "*" for s in statements.values())
    assert statements["iot:DeleteCertificate"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::*:role/fleet-deployer"
    ]
    # The deployer role the example manifests name is the one exempted.
    assert ":role/fleet-deployer" in (REPO / "manifests/accounts.yaml").read_text()


def test_the_kms_actions_fleet_iam_grants_are_exactly_the_kms_calls_the_code_makes() -> None:
    from fleet.aws import kms

    to_api = boto3.client("kms", region_name="us-east-1").meta.method_to_api_mapping
    called = {
        f"kms:{to_api[name]}"
        for path in (REPO / "fleet").rglob("*.py")
        for name in re.findall(r"self\._kms\.(\w+)\(", path.read_text())
    }
    assert called == kms.ACTIONS == {"kms:GetPublicKey", "kms:Sign"}
    granted = iam.deployer_policy(ca_keys=["arn:aws:kms:us-east-1:111111111111:key/k"])["Statement"][-1]
    assert set(granted["Action"]) == kms.ACTIONS and granted["Resource"] == ["arn:aws:kms:us-east-1:111111111111:key/k"]
    assert iam.deployer_policy() == json.loads((REPO / "docs/iam-deployer-policy.json").read_text())  # no key named


# How fleet.aws names a Lambda or IAM operation.
OTHER_CALLS = re.compile(r"self\._(lambda|iam)\.(?!get_paginator)(\w+)\(|self\._(iam)\.get_paginator\(\"(\w+)\"\)")


def test_the_just_in_time_declaration_covers_exactly_its_lambda_and_iam_calls() -> None:
    """fleet/aws/functions.py and roles.py: what the JustInTimeActivation spec (and so `fleet iam`) declares."""
    called = set()
    for module in ("functions.py", "roles.py"):
        for match in OTHER_CALLS.finditer((REPO / "fleet/aws" / module).read_text()):
            service, method = (match[1], match[2]) if match[1] else (match[3], match[4])
            api = boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping[method]
            called.add(f"{service}:{api}")
    assert {"lambda:CreateFunction", "iam:ListRolePolicies"} <= called  # the scan sees the code
    # PassRole is no call: IAM checks it when CreateFunction or UpdateFunctionConfiguration names the role.
    assert called == iam.all_actions() - iam.iot_actions() - {"iam:PassRole"}


def test_the_just_in_time_role_allows_exactly_the_calls_its_handler_makes() -> None:
    """fleet/aws/registrations.py is the handler's only AWS access; its role (fleet.jitr.role) allows those calls."""
    from fleet.jitr import role

    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = {
        f"iot:{to_api[m]}"
        for m in re.findall(r"self\._iot\.(\w+)\(", (REPO / "fleet/aws/registrations.py").read_text())
    }
    assert called == role.HANDLER_ACTIONS
    policy = role.policy("aws", "111111111111", "us-east-1", ["arn:aws:iam::222222222222:role/fleet-jitr-reader"])
    granted = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == role.HANDLER_ACTIONS | set(role.LOG_ACTIONS) | {"sts:AssumeRole"}
    [assume] = [s for s in policy["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == ["arn:aws:iam::222222222222:role/fleet-jitr-reader"]
