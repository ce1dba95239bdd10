"""docs/production.md's CloudFormation templates: `fleet iam --template` prints what docs/
holds, and both deploy to the local endpoint (the accounts template as a StackSet into two
accounts, the CI template into a third) with the roles, trusts, permissions and state bucket
docs/production.md promises, the manifests' role names and fleet's own IAM policies in them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from devtools.endpoint import LocalAws
from fleet.cli.base import load
from fleet.jitr import role as jitr_role
from fleet.scaffold import iam, production
from tests.conftest import client_in

REPO = Path(__file__).resolve().parents[2]
CI_ACCOUNT = "999999999999"
MANAGED = ("111111111111", "222222222222")
GITHUB = "token.actions.githubusercontent.com"


def test_docs_hold_what_fleet_prints() -> None:
    for name in production.TEMPLATES:
        printed = subprocess.run(
            [sys.executable, "-m", "fleet", "iam", "--template", name], capture_output=True, text=True, check=True
        ).stdout
        assert (REPO / "docs/cloudformation" / f"{name}.yaml").read_text() == printed, name


def parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def inline_policy(client: Any, role: str) -> dict[str, Any]:
    [name] = client.list_role_policies(RoleName=role)["PolicyNames"]
    document: dict[str, Any] = client.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return document


def trusted(client: Any, role: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = client.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
    return statements


def test_the_accounts_template_deploys_as_a_stack_set(local_aws: LocalAws) -> None:
    cloudformation = client_in(local_aws, "cloudformation", CI_ACCOUNT)
    cloudformation.create_stack_set(
        StackSetName="fleet-accounts",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        TemplateBody=(REPO / "docs/cloudformation/accounts.yaml").read_text(),
        Parameters=parameters(CiAccountId=CI_ACCOUNT, FleetAccountIds=",".join(MANAGED)),
    )
    operation = cloudformation.create_stack_instances(
        StackSetName="fleet-accounts", Accounts=list(MANAGED), Regions=["us-east-1"]
    )["OperationId"]
    status = cloudformation.describe_stack_set_operation(StackSetName="fleet-accounts", OperationId=operation)
    assert status["StackSetOperation"]["Status"] == "SUCCEEDED"

    fleet = load(REPO / "manifests")
    for account in MANAGED:
        client = client_in(local_aws, "iam", account)
        # The names the example manifests use are the template's defaults.
        [manifest_account] = [a for a in fleet.accounts if a.id == account]
        assert manifest_account.role_arn == f"arn:aws:iam::{account}:role/fleet-deployer"
        # fleet's policies, each action on the resources AWS authorizes it on, in this account.
        here = iam.Arns(account=account)
        assert inline_policy(client, "fleet-deployer") == iam.deployer_policy(here, "fleet-jitp")
        assert inline_policy(client, "fleet-reader") == iam.reader_policy(here)
        assert inline_policy(client, "fleet-jitr") == iam.jitr_policy(here)
        assert inline_policy(client, "fleet-break-glass") == iam.break_glass_policy(here)
        assert trusted(client, "fleet-jitr") == [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
        assert trusted(client, "fleet-break-glass") == [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}
        ]  # no BreakGlassPrincipalArn: the account's own principals
        # Every role the guardrail lets change or delete device certificates exists, by name (but the
        # just-in-time functions' roles, fleet-jitr-REGION, which fleet's own apply makes).
        scp = json.loads((REPO / "docs/iam-guardrail-scp.json").read_text())
        for arn in {a for s in scp["Statement"] for a in s["Condition"]["ArnNotLike"]["aws:PrincipalArn"]} - {
            "arn:aws:iam::*:role/fleet-jitr-*"
        }:
            assert client.get_role(RoleName=arn.removeprefix("arn:aws:iam::*:role/"))["Role"]["Arn"] == arn.replace(
                "*", account
            )
        assert trusted(client, "fleet-deployer") == [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": f"arn:aws:iam::{CI_ACCOUNT}:role/fleet-ci-apply"},
            }
        ]
        assert trusted(client, "fleet-reader") == [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": f"arn:aws:iam::{CI_ACCOUNT}:role/fleet-ci-plan"},
            }
        ]
        assert trusted(client, "fleet-jitp") == [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "iot.amazonaws.com"}}
        ]
        # Every account's just-in-time functions (fleet's fleet-jitr-REGION, or a team's own under the
        # template's fleet-jitr) read records here, and do nothing else.
        assert inline_policy(client, "fleet-jitr-reader") == jitr_role.reader_policy()
        assert trusted(client, "fleet-jitr-reader") == [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": list(MANAGED)},
                "Condition": {
                    "ArnLike": {
                        "aws:PrincipalArn": ["arn:aws:iam::*:role/fleet-jitr-*", "arn:aws:iam::*:role/fleet-jitr"]
                    }
                },
            }
        ]
        assert jitr_role.role_arn("aws", account, "us-east-1").startswith("arn:aws:iam::")
        attached = client.list_attached_role_policies(RoleName="fleet-jitp")["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/service-role/AWSIoTThingsRegistration"]
    jitp = {dict(p.registration_config).get("role_arn") for p in fleet.ca_placements} - {None}
    assert jitp == {"arn:aws:iam::111111111111:role/fleet-jitp"}


def test_the_break_glass_role_trusts_the_security_teams_role_when_named(local_aws: LocalAws) -> None:
    security = f"arn:aws:iam::{CI_ACCOUNT}:role/security-oncall"
    cloudformation = client_in(local_aws, "cloudformation", MANAGED[0])
    cloudformation.create_stack(
        StackName="fleet-accounts",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        TemplateBody=(REPO / "docs/cloudformation/accounts.yaml").read_text(),
        Parameters=parameters(CiAccountId=CI_ACCOUNT, BreakGlassPrincipalArn=security),
    )
    [stack] = cloudformation.describe_stacks(StackName="fleet-accounts")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["BreakGlassRoleArn"] == f"arn:aws:iam::{MANAGED[0]}:role/fleet-break-glass"
    assert trusted(client_in(local_aws, "iam", MANAGED[0]), "fleet-break-glass") == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": security}}
    ]


def deploy_ci(local_aws: LocalAws, **extra: str) -> dict[str, str]:
    cloudformation = client_in(local_aws, "cloudformation", CI_ACCOUNT)
    cloudformation.create_stack(
        StackName="fleet-ci",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        TemplateBody=(REPO / "docs/cloudformation/ci.yaml").read_text(),
        Parameters=parameters(GitHubRepository="acme/fleet", StateBucketName="acme-fleet-state", **extra),
    )
    [stack] = cloudformation.describe_stacks(StackName="fleet-ci")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_the_ci_template_trusts_pull_requests_to_read_and_only_production_to_apply(local_aws: LocalAws) -> None:
    outputs = deploy_ci(local_aws)
    assert outputs == {
        "PlanRoleArn": f"arn:aws:iam::{CI_ACCOUNT}:role/fleet-ci-plan",
        "ApplyRoleArn": f"arn:aws:iam::{CI_ACCOUNT}:role/fleet-ci-apply",
        "PulumiBackendUrl": "s3://acme-fleet-state",
    }
    client = client_in(local_aws, "iam", CI_ACCOUNT)
    provider = f"arn:aws:iam::{CI_ACCOUNT}:oidc-provider/{GITHUB}"
    assert client.get_open_id_connect_provider(OpenIDConnectProviderArn=provider)["ClientIDList"] == [
        "sts.amazonaws.com"
    ]

    def subjects(role: str) -> list[str]:
        [statement] = trusted(client, role)
        assert statement["Principal"] == {"Federated": provider}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Condition"]["StringEquals"][f"{GITHUB}:aud"] == "sts.amazonaws.com"
        found: list[str] = statement["Condition"]["StringEquals"][f"{GITHUB}:sub"]
        return found

    assert subjects("fleet-ci-plan") == [
        "repo:acme/fleet:environment:fleet-plan",
        "repo:acme/fleet:ref:refs/heads/main",
    ]
    assert subjects("fleet-ci-apply") == ["repo:acme/fleet:environment:fleet-production"]

    def may_assume(role: str) -> list[str]:
        return [s["Resource"] for s in inline_policy(client, role)["Statement"] if s["Action"] == "sts:AssumeRole"]

    assert may_assume("fleet-ci-plan") == ["arn:aws:iam::*:role/fleet-reader"]  # never a deployer
    assert may_assume("fleet-ci-apply") == ["arn:aws:iam::*:role/fleet-deployer"]
    plan_writes = [
        s["Resource"] for s in inline_policy(client, "fleet-ci-plan")["Statement"] if "s3:PutObject" in s["Action"]
    ]
    assert plan_writes == ["arn:aws:s3:::acme-fleet-state/.pulumi/locks/*"]  # a preview's lock, nothing else

    s3 = client_in(local_aws, "s3", CI_ACCOUNT)
    assert s3.get_bucket_versioning(Bucket="acme-fleet-state")["Status"] == "Enabled"
    [rule] = s3.get_bucket_encryption(Bucket="acme-fleet-state")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(s3.get_public_access_block(Bucket="acme-fleet-state")["PublicAccessBlockConfiguration"].values())
    policy = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket="acme-fleet-state")["Policy"])["Statement"]}
    assert policy["OnlyCiWritesState"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [outputs["PlanRoleArn"], outputs["ApplyRoleArn"]]}
    }
    assert "s3:DeleteObjectVersion" in policy["StateHistoryStays"]["Action"]
    assert policy["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_ci_template_uses_an_existing_provider_and_a_state_admin(local_aws: LocalAws) -> None:
    existing = f"arn:aws:iam::{CI_ACCOUNT}:oidc-provider/{GITHUB}"
    client_in(local_aws, "iam", CI_ACCOUNT).create_open_id_connect_provider(
        Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=[production.GITHUB_THUMBPRINT]
    )
    admin = f"arn:aws:iam::{CI_ACCOUNT}:role/platform-admin"
    outputs = deploy_ci(local_aws, GitHubProviderArn=existing, StateAdminArn=admin)  # a second provider would fail
    s3 = client_in(local_aws, "s3", CI_ACCOUNT)
    policy = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket="acme-fleet-state")["Policy"])["Statement"]}
    assert policy["OnlyCiWritesState"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        outputs["PlanRoleArn"],
        outputs["ApplyRoleArn"],
        admin,
    ]


def test_the_accounts_template_lets_the_deployer_sign_with_the_ca_keys_it_names(local_aws: LocalAws) -> None:
    """docs/production.md, "CA keys": the StackSet's CaKeyArns are exactly the keys `fleet iam` grants."""
    keys = [
        f"arn:aws:kms:us-east-1:{MANAGED[0]}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        f"arn:aws:kms:eu-west-1:{MANAGED[0]}:key/mrk-0123456789abcdef0123456789abcdef",
    ]
    cloudformation = client_in(local_aws, "cloudformation", MANAGED[0])
    cloudformation.create_stack(
        StackName="fleet-accounts",
        Capabilities=["CAPABILITY_NAMED_IAM"],
        TemplateBody=(REPO / "docs/cloudformation/accounts.yaml").read_text(),
        Parameters=parameters(CiAccountId=CI_ACCOUNT, CaKeyArns=",".join(keys)),
    )
    [stack] = cloudformation.describe_stacks(StackName="fleet-accounts")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    client = client_in(local_aws, "iam", MANAGED[0])
    for role, reader in (("fleet-deployer", False), ("fleet-reader", True)):
        assert sorted(client.list_role_policies(RoleName=role)["PolicyNames"]) == ["fleet-ca-keys", role]
        document = client.get_role_policy(RoleName=role, PolicyName="fleet-ca-keys")["PolicyDocument"]
        assert document["Statement"] == [iam.ca_keys_statement(keys, reader=reader)]
    assert iam.deployer_policy(ca_keys=keys)["Statement"][-1] == iam.ca_keys_statement(sorted(keys))
