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


def test_the_declared_actions_are_exactly_the_iot_calls_the_code_makes() -> None:
    called = iot_operations_called()
    assert {"iot:RegisterCACertificate", "iot:ListTargetsForPolicy"} <= called  # the scan sees the code
    assert called == iam.iot_actions()


def test_the_reader_policy_allows_only_reads() -> None:
    [statement] = iam.reader_policy()["Statement"]
    assert statement["Action"] == sorted(a for a in iam.iot_actions() if iam.is_read(a))
    assert "iot:UpdateCertificate" not in statement["Action"] and "iot:ListCertificates" in statement["Action"]
    assert json.loads(iam.as_text(iam.reader_policy())) == iam.reader_policy()


def test_the_guardrail_lets_only_fleets_roles_delete_or_change_device_certificates() -> None:
    """docs/iam-guardrail-scp.json, as README "How fleet remembers a revocation" recommends it."""
    [statement] = json.loads((REPO / "docs/iam-guardrail-scp.json").read_text())["Statement"]
    assert statement["Effect"] == "Deny" and statement["Resource"] == "*"
    assert set(statement["Action"]) == {"iot:DeleteCertificate", "iot:UpdateCertificate"}
    exempt = statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert "arn:aws:iam::*:role/fleet-deployer" in exempt and "arn:aws:iam::*:role/fleet-jitr" in exempt
    # The deployer role the example manifests name is the one exempted.
    assert ":role/fleet-deployer" in (REPO / "manifests/accounts.yaml").read_text()


def test_the_kms_actions_fleet_iam_grants_are_exactly_the_kms_calls_the_code_makes() -> None:
    from fleet.aws import kms

    to_api = boto3.client("kms", region_name="us-east-1").meta.method_to_api_mapping
    called = {f"kms:{to_api[name]}" for path in (REPO / "fleet").rglob("*.py")
              for name in re.findall(r"self\._kms\.(\w+)\(", path.read_text())}
    assert called == kms.ACTIONS == {"kms:GetPublicKey", "kms:Sign"}
    granted = iam.deployer_policy(["arn:aws:kms:us-east-1:111111111111:key/k"])["Statement"][-1]
    assert set(granted["Action"]) == kms.ACTIONS and granted["Resource"] == ["arn:aws:kms:us-east-1:111111111111:key/k"]
    assert iam.deployer_policy() == json.loads((REPO / "docs/iam-deployer-policy.json").read_text())  # no key named
