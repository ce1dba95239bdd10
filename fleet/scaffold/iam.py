"""The IAM policies fleet's roles need, derived from what the code declares it
calls: each provider's spec (fleet.model.declarations), the program's survey, and
the commands that read AWS (`fleet import` among them). docs/iam-deployer-policy.json and
docs/iam-reader-policy.json are `fleet iam` and `fleet iam --reader`; the
tests keep them equal, and check the code calls nothing beyond them.

Each action is allowed on the resources AWS lets a policy name for it, one
statement per resource type: certificates (``cert/*``), CA certificates
(``cacert/*``), IoT policies (``policy/*``), things (``thing/*``); only the
actions AWS authorizes on no resource at all (the list calls, the
registrations, GetRegistrationCode) are allowed on ``*``. The resource types
are AWS's, from the Service Authorization Reference ("Actions defined by AWS
IoT", the "Resource types" column):
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleet.aws import kms
from fleet.importing import estate
from fleet.jitr import role
from fleet.jitr.configuration import READER_ROLE
from fleet.manifest.desired import Fleet
from fleet.model import survey
from fleet.model.declarations import SPECS, actions

READS = ("List", "Describe", "Get")
# `fleet revoke-ca` and `fleet pending`: the blast radius and the pending PEMs; `fleet audit --aws`: every CA,
# certificate and policy of each account and region.
COMMANDS = actions(
    "ListCertificatesByCA",
    "DescribeCertificate",
    "ListCACertificates",
    "DescribeCACertificate",
    "ListCertificates",
    "ListPolicies",
    "GetPolicy",
)
# The just-in-time registration Lambda (fleet.jitr.handler), with a role of its own.
JITR = role.HANDLER_ACTIONS  # fleet.aws.registrations: the handler's only AWS access
# The break-glass role: a person revokes a certificate by hand (docs/production.md, "Emergency revocation").
BREAK_GLASS = actions("ListCertificates", "ListCertificatesByCA", "DescribeCertificate", "UpdateCertificate")

# The resource type each action fleet calls is authorized on (list_awsiot.html); None: AWS
# lists no resource type, so the policy must say "*". AttachPolicy and DetachPolicy take a
# certificate or a thing group: fleet attaches to certificates only. AttachThingPrincipal,
# DetachThingPrincipal and ListPrincipalThings are authorized on the certificate (the thing
# is a condition key, iot:thingArn).
RESOURCE_TYPES: dict[str, str | None] = {
    "iot:AttachPolicy": "cert",
    "iot:AttachThingPrincipal": "cert",
    "iot:CreatePolicy": "policy",
    "iot:CreatePolicyVersion": "policy",
    "iot:CreateThing": "thing",
    "iot:DeleteCACertificate": "cacert",
    "iot:DeleteCertificate": "cert",
    "iot:DeletePolicy": "policy",
    "iot:DeletePolicyVersion": "policy",
    "iot:DescribeCACertificate": "cacert",
    "iot:DescribeCertificate": "cert",
    "iot:DetachPolicy": "cert",
    "iot:DetachThingPrincipal": "cert",
    "iot:GetPolicy": "policy",
    "iot:GetRegistrationCode": None,
    "iot:ListAttachedPolicies": None,
    "iot:ListCACertificates": None,
    "iot:ListCertificates": None,
    "iot:ListCertificatesByCA": None,
    "iot:ListPolicies": None,
    "iot:ListPolicyVersions": "policy",
    "iot:ListPrincipalThings": "cert",
    "iot:ListTargetsForPolicy": "policy",
    "iot:RegisterCACertificate": None,
    "iot:RegisterCertificate": None,
    "iot:RegisterCertificateWithoutCA": None,
    "iot:UpdateCACertificate": "cacert",
    "iot:UpdateCertificate": "cert",
    "iot:CreateTopicRule": "rule",
    "iot:GetTopicRule": "rule",
    "iot:ReplaceTopicRule": "rule",
    "iot:DeleteTopicRule": "rule",
}
# A statement per resource type, in this order: (Sid suffix, resource type).
STATEMENTS = (
    ("Certificates", "cert"),
    ("CaCertificates", "cacert"),
    ("Policies", "policy"),
    ("Things", "thing"),
    ("TopicRules", "rule"),
    ("Unscoped", None),
)
# Resource names within a type, where fleet's own are the only ones it touches: its just-in-time rules.
NAMES = {"rule": "fleet_jitr_*"}


@dataclass(frozen=True)
class Arns:
    """How a policy names resources: in IAM's JSON (any account and region by default,
    or one of each), or in a CloudFormation template (``Fn::Sub`` with the stack's own
    partition and account: ``Arns.of_stack()``)."""

    partition: str = "aws"
    account: str = "*"
    region: str = "*"
    substituted: bool = False  # CloudFormation's Fn::Sub fills in ${...}

    @classmethod
    def of_stack(cls) -> Arns:
        return cls(partition="${AWS::Partition}", account="${AWS::AccountId}", substituted=True)

    def iot(self, resource_type: str | None) -> Any:
        if resource_type is None:
            return "*"
        name = NAMES.get(resource_type, "*")
        return self.sub(f"arn:{self.partition}:iot:{self.region}:{self.account}:{resource_type}/{name}")

    def role(self, name: str) -> Any:
        return self.sub(f"arn:{self.partition}:iam::{self.account}:role/{name}")

    def sub(self, arn: str) -> Any:
        return {"Fn::Sub": arn} if self.substituted else arn


DEFAULT_ARNS = Arns()
JITP_ROLE = "fleet-jitp"  # the accounts template's default (fleet.scaffold.production)


def all_actions() -> frozenset[str]:
    """Every AWS action the code may call, whatever the service."""
    found = set(survey.ACTIONS) | set(COMMANDS) | set(estate.ACTIONS)
    for spec in SPECS:
        for used in spec.actions.values():
            found |= used
    return frozenset(found)


def iot_actions() -> frozenset[str]:
    """Every AWS IoT action the code may call."""
    return frozenset(a for a in all_actions() if a.startswith("iot:"))


def jitr_statements(arns: Arns = DEFAULT_ARNS, reader: bool = False) -> list[dict[str, Any]]:
    """The just-in-time function fleet deploys in each region (fleet.jitr.role names it and its role),
    and passing that role to Lambda; ``reader``: what a preview reads of them."""
    others = {a for a in all_actions() - iot_actions() - {"iam:PassRole"} if not reader or is_read(a)}
    function = arns.sub(f"arn:{arns.partition}:lambda:{arns.region}:{arns.account}:function:{role.FUNCTION}")
    roles = arns.role(role.role_name("*"))
    statements = [
        {
            "Sid": "FleetJustInTimeFunction",
            "Effect": "Allow",
            "Resource": function,
            "Action": sorted(a for a in others if a.startswith("lambda:")),
        },
        {
            "Sid": "FleetJustInTimeRole",
            "Effect": "Allow",
            "Resource": roles,
            "Action": sorted(a for a in others if a.startswith("iam:")),
        },
    ]
    if not reader:
        statements.append(
            {
                "Sid": "PassTheJustInTimeRoleToLambda",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": roles,
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            }
        )
    return statements


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READS)


def scoped(sid: str, allowed: Iterable[str], arns: Arns) -> list[dict[str, Any]]:
    """Statements allowing ``allowed``, each on the resources AWS authorizes it on."""
    by_type: dict[str | None, list[str]] = defaultdict(list)
    for action in sorted(allowed):
        by_type[RESOURCE_TYPES[action]].append(action)
    return [
        {"Sid": f"{sid}{suffix}", "Effect": "Allow", "Action": by_type[kind], "Resource": arns.iot(kind)}
        for suffix, kind in STATEMENTS
        if by_type.get(kind)
    ]


def kms_keys(fleet: Fleet) -> list[str]:
    """The ARNs of the KMS keys the manifests name as CA keys."""
    return sorted({p.private_key.kms for p in fleet.ca_placements if p.private_key and p.private_key.kms})


def deployer_policy(
    arns: Arns = DEFAULT_ARNS, jitp_role: Any = JITP_ROLE, ca_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """``jitp_role``: the role a CA's registration config names, which the deployer passes to
    AWS IoT when it registers the CA (the accounts template's ``fleet-jitp``). ``ca_keys``: KMS
    keys that sign verification certificates (kms_keys): the deployer may sign with exactly
    those, and read their public halves."""
    pass_role = {
        "Sid": "PassTheJitpRoleToIot",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": arns.role(jitp_role),
        "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}},
    }
    keys = sorted(ca_keys)
    return {
        "Version": "2012-10-17",
        "Statement": [
            *scoped("FleetIoT", iot_actions(), arns),
            pass_role,
            *jitr_statements(arns),
            *([ca_keys_statement(keys)] if keys else []),
        ],
    }


def ca_keys_statement(keys: Any, reader: bool = False) -> dict[str, Any]:
    """Use of the KMS keys that hold CA keys: signing (the deployer), or reading their public halves (the
    reader, whose previews check them). ``keys``: their ARNs (or a template's reference to them)."""
    if reader:
        return {
            "Sid": "ReadTheCaKeys",
            "Effect": "Allow",
            "Action": sorted(a for a in kms.ACTIONS if is_read(a)),
            "Resource": keys,
        }
    return {"Sid": "SignWithTheCaKeys", "Effect": "Allow", "Action": sorted(kms.ACTIONS), "Resource": keys}


def reader_policy(arns: Arns = DEFAULT_ARNS, ca_keys: Iterable[str] = ()) -> dict[str, Any]:
    """FLEET_READER_ROLE: previews and drift checks read, and nothing else (a preview checks a KMS
    CA key's public half)."""
    keys = sorted(ca_keys)
    return {
        "Version": "2012-10-17",
        "Statement": [
            *scoped("FleetIoTRead", (a for a in iot_actions() if is_read(a)), arns),
            *jitr_statements(arns, reader=True),
            *([ca_keys_statement(keys, reader=True)] if keys else []),
        ],
    }


def jitr_policy(arns: Arns = DEFAULT_ARNS) -> dict[str, Any]:
    """A just-in-time registration Lambda's that a team deploys itself (fleet.jitr.handler): read,
    attach, activate here, and read a certificate's record in the fleet's other accounts through
    their reader roles (fleet.jitr.configuration.READER_ROLE)."""
    readers = {
        "Sid": "ReadRecordsInOtherAccounts",
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": arns.sub(f"arn:{arns.partition}:iam::*:role/{READER_ROLE}"),
    }
    return {"Version": "2012-10-17", "Statement": [*scoped("FleetJitr", JITR, arns), readers]}


def break_glass_policy(arns: Arns = DEFAULT_ARNS) -> dict[str, Any]:
    """A person's, in an emergency: find a certificate and set its status (to REVOKED; AWS
    has no condition key that could allow that status only)."""
    return {"Version": "2012-10-17", "Statement": scoped("BreakGlass", BREAK_GLASS, arns)}


def as_text(policy: dict[str, Any]) -> str:
    return json.dumps(policy, indent=2) + "\n"
