"""The IAM policies fleet's roles need, derived from what the code declares it
calls: each provider's spec (fleet.declarations), the program's survey, and
the commands that read AWS. docs/iam-deployer-policy.json and
docs/iam-reader-policy.json are `fleet iam` and `fleet iam --reader`; the
tests keep them equal, and check the code calls nothing beyond them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fleet import survey
from fleet.aws import kms
from fleet.declarations import SPECS, actions
from fleet.manifest.desired import Fleet

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


def iot_actions() -> frozenset[str]:
    """Every AWS IoT action the code may call."""
    found = set(survey.ACTIONS) | set(COMMANDS)
    for spec in SPECS:
        for used in spec.actions.values():
            found |= used
    return frozenset(found)


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READS)


def kms_keys(fleet: Fleet) -> list[str]:
    """The ARNs of the KMS keys the manifests name as CA keys."""
    return sorted({p.private_key.kms for p in fleet.ca_placements if p.private_key and p.private_key.kms})


def deployer_policy(ca_keys: Iterable[str] = ()) -> dict[str, Any]:
    """``ca_keys``: KMS keys that sign verification certificates (kms_keys): the deployer may sign
    with exactly those, and read their public halves."""
    keys = sorted(ca_keys)
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FleetIoT", "Effect": "Allow", "Action": sorted(iot_actions()), "Resource": "*"}, PASS_ROLE,
        *([ca_keys_statement(keys)] if keys else [])]}


def ca_keys_statement(keys: Any, reader: bool = False) -> dict[str, Any]:
    """Use of the KMS keys that hold CA keys: signing (the deployer), or reading their public halves (the
    reader, whose previews check them). ``keys``: their ARNs (or a template's reference to them)."""
    if reader:
        return {"Sid": "ReadTheCaKeys", "Effect": "Allow", "Action": sorted(a for a in kms.ACTIONS if is_read(a)),
                "Resource": keys}
    return {"Sid": "SignWithTheCaKeys", "Effect": "Allow", "Action": sorted(kms.ACTIONS), "Resource": keys}


def reader_policy(ca_keys: Iterable[str] = ()) -> dict[str, Any]:
    """FLEET_READER_ROLE: previews and drift checks read, and nothing else (a preview checks a KMS
    CA key's public half)."""
    keys = sorted(ca_keys)
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "FleetIoTRead", "Effect": "Allow", "Action": sorted(a for a in iot_actions() if is_read(a)),
         "Resource": "*"},
        *([ca_keys_statement(keys, reader=True)] if keys else [])]}


def as_text(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"
