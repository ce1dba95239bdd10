"""The deployer role's documented policy lists exactly the AWS IoT calls the code makes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[2]


def iot_operations_called() -> set[str]:
    to_api = boto3.client("iot", region_name="us-east-1").meta.method_to_api_mapping
    called = set()
    for path in (REPO / "fleet").rglob("*.py"):
        for method in re.findall(r"self\._iot\.(\w+)\(", path.read_text()):
            called.add(f"iot:{to_api[method]}")
    return called


def test_the_policy_allows_every_iot_call_the_code_makes_and_nothing_more() -> None:
    policy = json.loads((REPO / "docs/iam-deployer-policy.json").read_text())
    allowed = {action for statement in policy["Statement"] for action in
               ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    called = iot_operations_called()
    assert "iot:RegisterCACertificate" in called  # the scan sees the code
    assert {a for a in allowed if a.startswith("iot:")} == called


def test_the_reader_policy_allows_exactly_the_read_calls() -> None:
    """docs/iam-reader-policy.json: the role named by FLEET_READER_ROLE (previews, drift checks)."""
    policy = json.loads((REPO / "docs/iam-reader-policy.json").read_text())
    allowed = {action for statement in policy["Statement"] for action in statement["Action"]}
    reads = {call for call in iot_operations_called() if call.split(":")[1].startswith(("List", "Describe", "Get"))}
    assert "iot:ListTargetsForPolicy" in reads and "iot:UpdateCertificate" not in reads
    assert allowed == reads
