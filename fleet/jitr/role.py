"""The just-in-time function's execution role: exactly what the handler calls
(HANDLER_ACTIONS, held to fleet.aws.registrations by a test, as `fleet iam`
holds the deployer's policy to the providers' specs), scoped to its place,
plus reading records in the fleet's other accounts through their reader roles
(fleet.jitr.configuration.READER_ROLE) and writing its own log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FUNCTION = "fleet-jitr"  # the function's name in each region of an account
POLICY = "fleet-jitr"  # the role's one inline policy
# The AWS IoT calls the handler makes (fleet.aws.registrations).
HANDLER_ACTIONS = frozenset(
    {"iot:DescribeCertificate", "iot:DescribeCACertificate", "iot:AttachPolicy", "iot:UpdateCertificate"}
)
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")  # Lambda writes the log with it
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def role_name(region: str) -> str:
    """One role per region (IAM names are per account; each region's function has its own)."""
    return f"fleet-jitr-{region}"


def role_arn(partition: str, account_id: str, region: str) -> str:
    return f"arn:{partition}:iam::{account_id}:role/{role_name(region)}"


def function_arn(partition: str, account_id: str, region: str) -> str:
    return f"arn:{partition}:lambda:{region}:{account_id}:function:{FUNCTION}"


def policy(partition: str, account_id: str, region: str, readers: Iterable[str]) -> dict[str, Any]:
    """``readers``: the reader roles of the fleet's other accounts."""
    here = f"arn:{partition}:iot:{region}:{account_id}"
    log_group = f"arn:{partition}:logs:{region}:{account_id}:log-group:/aws/lambda/{FUNCTION}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ActivateHere",
            "Effect": "Allow",
            "Action": sorted(HANDLER_ACTIONS - {"iot:DescribeCertificate"}),
            "Resource": f"{here}:*",
        },
        {
            "Sid": "ReadRecordsInThisAccount",
            "Effect": "Allow",
            "Action": "iot:DescribeCertificate",
            "Resource": f"arn:{partition}:iot:*:{account_id}:cert/*",
        },
        {
            "Sid": "WriteItsLog",
            "Effect": "Allow",
            "Action": sorted(LOG_ACTIONS),
            "Resource": [log_group, f"{log_group}:*"],
        },
    ]
    others = sorted(set(readers))
    if others:
        statements.append(
            {"Sid": "ReadRecordsInOtherAccounts", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": others}
        )
    return {"Version": "2012-10-17", "Statement": statements}


def reader_policy() -> dict[str, Any]:
    """The reader role each account gives the fleet's functions (docs/cloudformation/accounts.yaml): one read."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadCertificateRecords", "Effect": "Allow", "Action": "iot:DescribeCertificate", "Resource": "*"}
        ],
    }
