"""The roles' documented policies are what fleet derives from its own
declarations, and those declarations cover exactly the AWS IoT calls the code
can make."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3

from fleet import iam

REPO = Path(__file__).resolve().parents[2]
# How fleet.aws names an operation: a direct client call, its _call/_pages helpers, or a paginator.
CALLS = re.compile(r"self\._iot\.(?!get_paginator)(\w+)\(|_call\(\s*\"(\w+)\"|_pages\(\s*\"(\w+)\""
                   r"|get_paginator\(\"(\w+)\"\)")


def iot_operations_called() -> set[str]:
    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = set()
    for path in (REPO / "fleet").rglob("*.py"):
        if path.name == "registrations.py":  # the just-in-time function's calls: its own role (fleet.jitr.role)
            continue
        if path.name in ("functions.py", "roles.py"):  # Lambda and IAM, not IoT: the test below
            continue
        if path.name == "recovery.py":  # reads the Pulumi state backend's S3 bucket, with the CI job's credentials
            continue
        for match in CALLS.finditer(path.read_text()):
            called.add(f"iot:{to_api[next(name for name in match.groups() if name)]}")
    return called


def test_the_documented_policies_are_what_fleet_iam_prints() -> None:
    assert (REPO / "docs/iam-deployer-policy.json").read_text() == iam.as_text(iam.deployer_policy())
    assert (REPO / "docs/iam-reader-policy.json").read_text() == iam.as_text(iam.reader_policy())


def test_the_declared_actions_are_exactly_the_iot_calls_the_code_makes() -> None:
    called = iot_operations_called()
    assert {"iot:RegisterCACertificate", "iot:ListTargetsForPolicy"} <= called  # the scan sees the code
    assert called == iam.iot_actions()


def test_the_reader_policy_allows_only_reads() -> None:
    iot, jitr = iam.reader_policy()["Statement"]
    assert iot["Action"] == sorted(a for a in iam.iot_actions() if iam.is_read(a))
    assert "iot:UpdateCertificate" not in iot["Action"] and "iot:ListCertificates" in iot["Action"]
    assert jitr["Action"] == ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
                              "iam:ListRolePolicies", "lambda:GetFunctionConfiguration", "lambda:GetPolicy"]
    assert json.loads(iam.as_text(iam.reader_policy())) == iam.reader_policy()


def test_the_guardrail_lets_only_fleets_roles_delete_or_change_device_certificates() -> None:
    """docs/iam-guardrail-scp.json, as README "How fleet remembers a revocation" recommends it."""
    [statement] = json.loads((REPO / "docs/iam-guardrail-scp.json").read_text())["Statement"]
    assert statement["Effect"] == "Deny" and statement["Resource"] == "*"
    assert set(statement["Action"]) == {"iot:DeleteCertificate", "iot:UpdateCertificate"}
    exempt = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert "arn:aws:iam::*:role/fleet-deployer" in exempt and "arn:aws:iam::*:role/fleet-jitr-*" in exempt
    # The deployer role the example manifests name is the one exempted.
    assert ":role/fleet-deployer" in (REPO / "manifests/accounts.yaml").read_text()


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
    called = {f"iot:{to_api[m]}" for m in re.findall(r"self\._iot\.(\w+)\(",
                                                      (REPO / "fleet/aws/registrations.py").read_text())}
    assert called == role.HANDLER_ACTIONS
    policy = role.policy("aws", "111111111111", "us-east-1", ["arn:aws:iam::222222222222:role/fleet-jitr-reader"])
    granted = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert granted == role.HANDLER_ACTIONS | set(role.LOG_ACTIONS) | {"sts:AssumeRole"}
    [assume] = [s for s in policy["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == ["arn:aws:iam::222222222222:role/fleet-jitr-reader"]
