"""The IAM policies fleet's roles need, derived from what the code declares it
calls: each provider's spec (fleet.declarations), the program's survey, and
the commands that read AWS (`fleet import` among them). docs/iam-deployer-policy.json and
docs/iam-reader-policy.json are `fleet iam` and `fleet iam --reader`; the
tests keep them equal, and check the code calls nothing beyond them.
"""

from __future__ import annotations

import json
from typing import Any

from fleet import survey
from fleet.declarations import SPECS, actions
from fleet.importing import estate

READS = ("List", "Describe", "Get")
# `fleet revoke-ca` and `fleet pending`: the blast radius and the pending PEMs.
COMMANDS = actions("ListCertificatesByCA", "DescribeCertificate")
# The deployer registers CAs whose JITP registration config names a role AWS IoT assumes.
PASS_ROLE = {
    "Sid": "PassTheJitpRoleToIot", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
    "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}},
}


def iot_actions() -> frozenset[str]:
    """Every AWS IoT action the code may call."""
    found = set(survey.ACTIONS) | set(COMMANDS) | set(estate.ACTIONS)
    for spec in SPECS:
        for used in spec.actions.values():
            found |= used
    return frozenset(found)


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READS)


def deployer_policy() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FleetIoT", "Effect": "Allow", "Action": sorted(iot_actions()), "Resource": "*"}, PASS_ROLE]}


def reader_policy() -> dict[str, Any]:
    """FLEET_READER_ROLE: previews and drift checks read, and nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FleetIoTRead", "Effect": "Allow", "Action": sorted(a for a in iot_actions() if is_read(a)),
         "Resource": "*"}]}


def as_text(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"
