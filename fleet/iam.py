"""The IAM policies fleet's roles need, derived from what the code declares it
calls: each provider's spec (fleet.declarations), the program's survey, and
the commands that read AWS. docs/iam-deployer-policy.json and
docs/iam-reader-policy.json are `fleet iam` and `fleet iam --reader`; the
tests keep them equal, and check the code calls nothing beyond them.
"""

from __future__ import annotations

import json
from typing import Any

from fleet import survey
from fleet.declarations import SPECS, actions

READS = ("List", "Describe", "Get")
# `fleet revoke-ca` and `fleet pending`: the blast radius and the pending PEMs; `fleet audit --aws`: every CA,
# certificate and policy of each account and region.
COMMANDS = actions("ListCertificatesByCA", "DescribeCertificate", "ListCACertificates", "DescribeCACertificate",
                   "ListCertificates", "ListPolicies", "GetPolicy")
# The deployer registers CAs whose JITP registration config names a role AWS IoT assumes.
PASS_ROLE = {
    "Sid": "PassTheJitpRoleToIot", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
    "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}},
}


def all_actions() -> frozenset[str]:
    """Every AWS action the code may call, whatever the service."""
    found = set(survey.ACTIONS) | set(COMMANDS)
    for spec in SPECS:
        for used in spec.actions.values():
            found |= used
    return frozenset(found)


def iot_actions() -> frozenset[str]:
    """Every AWS IoT action the code may call."""
    return frozenset(a for a in all_actions() if a.startswith("iot:"))


def jitr_statements() -> list[dict[str, Any]]:
    """The just-in-time function's role and function (fleet.jitr.role names them), and passing that role to Lambda."""
    others = all_actions() - iot_actions() - {"iam:PassRole"}
    return [
        {"Sid": "FleetJustInTimeFunction", "Effect": "Allow", "Resource": "arn:aws:lambda:*:*:function:fleet-jitr",
         "Action": sorted(a for a in others if a.startswith("lambda:"))},
        {"Sid": "FleetJustInTimeRole", "Effect": "Allow", "Resource": "arn:aws:iam::*:role/fleet-jitr-*",
         "Action": sorted(a for a in others if a.startswith("iam:"))},
        {"Sid": "PassTheJustInTimeRoleToLambda", "Effect": "Allow", "Action": "iam:PassRole",
         "Resource": "arn:aws:iam::*:role/fleet-jitr-*",
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
    ]


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READS)


def deployer_policy() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FleetIoT", "Effect": "Allow", "Action": sorted(iot_actions()), "Resource": "*"}, PASS_ROLE,
        *jitr_statements()]}


def reader_policy() -> dict[str, Any]:
    """FLEET_READER_ROLE: previews and drift checks read, and nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FleetIoTRead", "Effect": "Allow", "Action": sorted(a for a in iot_actions() if is_read(a)),
         "Resource": "*"},
        {"Sid": "FleetJustInTimeRead", "Effect": "Allow", "Resource": "*",
         "Action": sorted(a for a in all_actions() - iot_actions() if is_read(a))}]}


def as_text(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"
