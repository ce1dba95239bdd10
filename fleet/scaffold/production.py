"""The CloudFormation templates of docs/production.md, with fleet's IAM policies
(fleet.scaffold.iam) in them: `fleet iam --template accounts|ci` prints them, and
docs/cloudformation/ holds them (a test keeps both equal and deploys them to
the local endpoint); and the guardrail service control policy, made from the
same role names (`fleet iam --guardrail`, docs/iam-guardrail-scp.json).

- accounts: every account fleet manages (a StackSet): the deployer role
  (assumed by CI's apply role), the reader role (by CI's plan role), the
  JITP role AWS IoT assumes to provision devices, the role for a
  just-in-time registration Lambda a team deploys itself, the break-glass
  role a person assumes to revoke a certificate by hand in an emergency, and
  the just-in-time reader role (assumed by the just-in-time functions fleet
  deploys, in every account of FleetAccountIds, to read a certificate's
  record).
- ci: the CI account: GitHub's OIDC provider, the plan role (pull requests'
  environment and the default branch, read-only), the apply role (the
  production environment only) and the versioned, encrypted state bucket that
  only those two roles write.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML

from fleet.jitr.configuration import READER_ROLE
from fleet.jitr.role import reader_policy as jitr_reader_policy
from fleet.jitr.role import role_name as jitr_role_name
from fleet.scaffold.iam import Arns, break_glass_policy, ca_keys_statement, deployer_policy, jitr_policy, reader_policy

GITHUB = "token.actions.githubusercontent.com"
# IAM ignores the thumbprint for GitHub's provider (it trusts GitHub's certificate authority), but
# the API wants one: id_roles_providers_create_oidc_verify-thumbprint.html.
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"
IOT_REGISTRATION = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSIoTThingsRegistration"
LAMBDA_LOGS = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# The roles the accounts template makes in every managed account: parameter -> default name.
DEPLOYER, READER, JITP, JITR, BREAK_GLASS = (
    "DeployerRoleName",
    "ReaderRoleName",
    "JitpRoleName",
    "JitrRoleName",
    "BreakGlassRoleName",
)
ROLE_NAMES = {
    DEPLOYER: "fleet-deployer",
    READER: "fleet-reader",
    JITP: "fleet-jitp",
    JITR: "fleet-jitr",
    BREAK_GLASS: "fleet-break-glass",
}
# Who may change a device certificate's status (UpdateCertificate) or delete it, in every account
# the guardrail covers: fleet's apply; AWS IoT provisioning with the JITP role (its template
# activates the certificate); the just-in-time Lambda; a person in an emergency. Only fleet's
# apply deletes.
MAY_CHANGE_STATUS = (DEPLOYER, JITP, JITR, BREAK_GLASS)
MAY_DELETE = (DEPLOYER,)


def _name(default: str, what: str) -> dict[str, Any]:
    return {"Type": "String", "Default": default, "AllowedPattern": "^[A-Za-z0-9+=,.@_-]+$", "Description": what}


def _trust(principal: dict[str, Any], action: str = "sts:AssumeRole", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def accounts_template() -> dict[str, Any]:
    ci_role = "arn:${AWS::Partition}:iam::${CiAccountId}:role/"
    here = Arns.of_stack()  # this account, any region: IAM is global, fleet works in several regions
    break_glass = {
        "Fn::If": [
            "HasBreakGlassPrincipal",
            {"Ref": "BreakGlassPrincipalArn"},
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
        ]
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "fleet's roles in an account it manages (deploy to every account as a StackSet)",
        "Parameters": {
            "CiAccountId": {
                "Type": "String",
                "AllowedPattern": "^[0-9]{12}$",
                "Description": "the account of CI's plan and apply roles (the ci template)",
            },
            "ApplyRoleName": _name("fleet-ci-apply", "CI's apply role (may assume the deployer role)"),
            "PlanRoleName": _name("fleet-ci-plan", "CI's plan role (may assume the reader role)"),
            DEPLOYER: _name(ROLE_NAMES[DEPLOYER], "the manifests' deployer_role_arn"),
            READER: _name(ROLE_NAMES[READER], "the workflows' FLEET_READER_ROLE"),
            JITP: _name(ROLE_NAMES[JITP], "the role a CA's registration_config names (role_arn)"),
            JITR: _name(ROLE_NAMES[JITR], "the just-in-time registration Lambda's role (fleet.jitr.handler)"),
            BREAK_GLASS: _name(
                ROLE_NAMES[BREAK_GLASS], "the role a person assumes to revoke a certificate by hand in an emergency"
            ),
            "BreakGlassPrincipalArn": {
                "Type": "String",
                "Default": "",
                "Description": "who may assume the break-glass role (a security team's "
                "role); empty: this account's IAM principals whose own "
                "policies allow it",
            },
            "CaKeyArns": {
                "Type": "CommaDelimitedList",
                "Default": "",
                "Description": "the KMS keys that hold CA keys (`private_key: {kms: ARN}`; `fleet iam` "
                "lists them): the deployer signs with them; empty: none",
            },
            "FleetAccountIds": {
                "Type": "CommaDelimitedList",
                "Default": "",
                "Description": "every account of the fleet: their just-in-time functions read a "
                "certificate's record here before activating one; empty: no "
                "just-in-time activation (no reader role)",
            },
            "JitrReaderRoleName": _name(READER_ROLE, "the role those functions assume here (docs/just-in-time.md)"),
        },
        "Conditions": {
            "HasBreakGlassPrincipal": {"Fn::Not": [{"Fn::Equals": [{"Ref": "BreakGlassPrincipalArn"}, ""]}]},
            "HasCaKeys": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "CaKeyArns"}]}, ""]}]},
            "HasFleetAccounts": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "FleetAccountIds"}]}, ""]}]},
        },
        "Resources": {
            "DeployerRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": DEPLOYER},
                    "Description": "fleet's pulumi up (fleet iam)",
                    "AssumeRolePolicyDocument": _trust({"AWS": {"Fn::Sub": ci_role + "${ApplyRoleName}"}}),
                    "Policies": [
                        {"PolicyName": "fleet-deployer", "PolicyDocument": deployer_policy(here, "${" + JITP + "}")}
                    ],
                },
            },
            "ReaderRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": READER},
                    "Description": "fleet's previews and drift checks (fleet iam --reader): reads only",
                    "AssumeRolePolicyDocument": _trust({"AWS": {"Fn::Sub": ci_role + "${PlanRoleName}"}}),
                    "Policies": [{"PolicyName": "fleet-reader", "PolicyDocument": reader_policy(here)}],
                },
            },
            "JitpRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": JITP},
                    "Description": "AWS IoT provisions just-in-time registered devices with it",
                    "AssumeRolePolicyDocument": _trust({"Service": "iot.amazonaws.com"}),
                    "ManagedPolicyArns": [{"Fn::Sub": IOT_REGISTRATION}],
                },
            },
            "JitrRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": JITR},
                    "Description": "fleet's just-in-time registration Lambda (fleet.jitr.handler): activates what "
                    "fleet's decision allows",
                    "AssumeRolePolicyDocument": _trust({"Service": "lambda.amazonaws.com"}),
                    "ManagedPolicyArns": [{"Fn::Sub": LAMBDA_LOGS}],
                    "Policies": [{"PolicyName": "fleet-jitr", "PolicyDocument": jitr_policy(here)}],
                },
            },
            "BreakGlassRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": BREAK_GLASS},
                    "Description": "revoke a device certificate by hand in an emergency, then adopt it with `fleet "
                    "drift --adopt-revocations` (docs/production.md)",
                    "MaxSessionDuration": 3600,
                    "AssumeRolePolicyDocument": _trust({"AWS": break_glass}),
                    "Policies": [{"PolicyName": "fleet-break-glass", "PolicyDocument": break_glass_policy(here)}],
                },
            },
            **{
                f"CaKeysFor{role}": {
                    "Type": "AWS::IAM::Policy",
                    "Condition": "HasCaKeys",
                    "Properties": {
                        "PolicyName": "fleet-ca-keys",
                        "Roles": [{"Ref": f"{role}Role"}],
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [ca_keys_statement({"Ref": "CaKeyArns"}, reader=role == "Reader")],
                        },
                    },
                }
                for role in ("Deployer", "Reader")
            },
            # Only the fleet's accounts' just-in-time execution roles (fleet.jitr.role: fleet-jitr-REGION).
            "JitrReaderRole": {
                "Type": "AWS::IAM::Role",
                "Condition": "HasFleetAccounts",
                "Properties": {
                    "RoleName": {"Ref": "JitrReaderRoleName"},
                    "Description": "fleet's just-in-time functions read certificate records here "
                    "(docs/just-in-time.md)",
                    "AssumeRolePolicyDocument": _trust(
                        {"AWS": {"Ref": "FleetAccountIds"}},
                        ArnLike={
                            "aws:PrincipalArn": [  # fleet's functions' roles, and the template's own
                                {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/" + name}
                                for name in (jitr_role_name("*"), ROLE_NAMES[JITR])
                            ]
                        },
                    ),
                    "Policies": [{"PolicyName": READER_ROLE, "PolicyDocument": jitr_reader_policy()}],
                },
            },
        },
        "Outputs": {
            **{
                f"{role}Arn": {"Value": {"Fn::GetAtt": [role, "Arn"]}}
                for role in ("DeployerRole", "ReaderRole", "JitpRole", "JitrRole", "BreakGlassRole")
            },
            "JitrReaderRoleArn": {"Condition": "HasFleetAccounts", "Value": {"Fn::GetAtt": ["JitrReaderRole", "Arn"]}},
        },
    }


def guardrail_scp() -> dict[str, Any]:
    """The service control policy of docs/production.md: no one but the roles the accounts
    template makes for it (and the just-in-time functions fleet deploys) changes a device
    certificate's status or deletes one."""

    def only(sid: str, action: str, parameters: tuple[str, ...], *names: str) -> dict[str, Any]:
        exempt = [f"arn:aws:iam::*:role/{name}" for name in (*(ROLE_NAMES[p] for p in parameters), *names)]
        return {
            "Sid": sid,
            "Effect": "Deny",
            "Action": action,
            "Resource": "*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": exempt}},
        }

    return {
        "Version": "2012-10-17",
        "Statement": [
            only("OnlyFleetDeletesDeviceCertificates", "iot:DeleteCertificate", MAY_DELETE),
            only(
                "OnlyFleetsRolesChangeDeviceCertificateStatus",
                "iot:UpdateCertificate",
                MAY_CHANGE_STATUS,
                jitr_role_name("*"),
            ),
        ],
    }  # the execution roles of the just-in-time functions fleet deploys


def ci_template() -> dict[str, Any]:
    repo = "repo:${GitHubRepository}:"
    bucket = "arn:${AWS::Partition}:s3:::${StateBucketName}"
    ci_roles = [{"Fn::GetAtt": ["PlanRole", "Arn"]}, {"Fn::GetAtt": ["ApplyRole", "Arn"]}]
    writers = {"Fn::If": ["HasStateAdmin", [*ci_roles, {"Ref": "StateAdminArn"}], ci_roles]}

    def github_trust(*subjects: str) -> dict[str, Any]:
        return _trust(
            {"Federated": {"Fn::If": ["CreateProvider", {"Ref": "GitHubProvider"}, {"Ref": "GitHubProviderArn"}]}},
            "sts:AssumeRoleWithWebIdentity",
            StringEquals={
                f"{GITHUB}:aud": "sts.amazonaws.com",
                f"{GITHUB}:sub": [{"Fn::Sub": repo + s} for s in subjects],
            },
        )

    def role_policy(name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
        return {"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}

    def assume(role_parameter: str) -> dict[str, Any]:
        return {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${" + role_parameter + "}"},
        }

    list_bucket = {
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
        "Resource": {"Fn::Sub": bucket},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "fleet's CI: GitHub's OIDC provider, the plan and apply roles, the Pulumi state bucket",
        "Parameters": {
            "GitHubRepository": {
                "Type": "String",
                "AllowedPattern": "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
                "Description": "OWNER/REPOSITORY of the fleet's manifests",
            },
            "GitHubProviderArn": {
                "Type": "String",
                "Default": "",
                "Description": "the account's GitHub OIDC provider, if it has one (an "
                "account holds one per URL); empty: this stack makes it",
            },
            "PlanEnvironment": _name("fleet-plan", "the pull-request workflow's environment"),
            "ProductionEnvironment": _name(
                "fleet-production",
                "the apply workflow's environment: restrict its deployment branches to the default branch",
            ),
            "MainBranch": _name(
                "main",
                "the repository's default branch (main, master, ...): the drift workflow's scheduled runs run on it",
            ),
            "StateBucketName": {
                "Type": "String",
                "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                "Description": "the Pulumi state bucket (PULUMI_BACKEND_URL s3://NAME)",
            },
            "StateAdminArn": {
                "Type": "String",
                "Default": "",
                "Description": "a role that may also write the state (the one-time `pulumi stack "
                "init`, a `fleet recover` by hand); empty: none",
            },
            "PlanRoleName": _name("fleet-ci-plan", "FLEET_PLAN_ROLE_ARN: pull requests and drift checks"),
            "ApplyRoleName": _name("fleet-ci-apply", "FLEET_CI_ROLE_ARN: pulumi up on the default branch"),
            DEPLOYER: _name(ROLE_NAMES[DEPLOYER], "the deployer role in each managed account"),
            READER: _name(ROLE_NAMES[READER], "the reader role in each managed account"),
        },
        "Conditions": {
            "CreateProvider": {"Fn::Equals": [{"Ref": "GitHubProviderArn"}, ""]},
            "HasStateAdmin": {"Fn::Not": [{"Fn::Equals": [{"Ref": "StateAdminArn"}, ""]}]},
        },
        "Resources": {
            "GitHubProvider": {
                "Type": "AWS::IAM::OIDCProvider",
                "Condition": "CreateProvider",
                "Properties": {
                    "Url": f"https://{GITHUB}",
                    "ClientIdList": ["sts.amazonaws.com"],
                    "ThumbprintList": [GITHUB_THUMBPRINT],
                },
            },
            # A branch runs its own code: its token (an environment any workflow may name, or the default branch's
            # schedule) must reach only the reader roles.
            "PlanRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": "PlanRoleName"},
                    "AssumeRolePolicyDocument": github_trust(
                        "environment:${PlanEnvironment}", "ref:refs/heads/${MainBranch}"
                    ),
                    "Policies": [
                        role_policy(
                            "fleet-plan",
                            [
                                assume("ReaderRoleName"),
                                list_bucket,
                                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": bucket + "/*"}},
                                # A preview takes the stack's lock, as every Pulumi operation does.
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:PutObject", "s3:DeleteObject"],
                                    "Resource": {"Fn::Sub": bucket + "/.pulumi/locks/*"},
                                },
                            ],
                        )
                    ],
                },
            },
            # Only a job in the production environment, whose deployment branches are the default branch only.
            "ApplyRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": {"Ref": "ApplyRoleName"},
                    "AssumeRolePolicyDocument": github_trust("environment:${ProductionEnvironment}"),
                    "Policies": [
                        role_policy(
                            "fleet-apply",
                            [
                                assume("DeployerRoleName"),
                                list_bucket,
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                                    "Resource": {"Fn::Sub": bucket + "/*"},
                                },
                            ],
                        )
                    ],
                },
            },
            "StateBucket": {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "BucketName": {"Ref": "StateBucketName"},
                    # Every state a stack ever had stays: a memory of revocations (README).
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                },
            },
            "StateBucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "StateBucket"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "TlsOnly",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": "s3:*",
                                "Resource": [{"Fn::Sub": bucket}, {"Fn::Sub": bucket + "/*"}],
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                            {
                                "Sid": "OnlyCiWritesState",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": ["s3:PutObject", "s3:DeleteObject"],
                                "Resource": {"Fn::Sub": bucket + "/*"},
                                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": writers}},
                            },
                            {
                                "Sid": "StateHistoryStays",
                                "Effect": "Deny",
                                "Principal": "*",
                                "Action": [
                                    "s3:DeleteObjectVersion",
                                    "s3:PutBucketVersioning",
                                    "s3:PutLifecycleConfiguration",
                                ],
                                "Resource": [{"Fn::Sub": bucket}, {"Fn::Sub": bucket + "/*"}],
                            },
                        ],
                    },
                },
            },
        },
        "Outputs": {
            "PlanRoleArn": {"Value": {"Fn::GetAtt": ["PlanRole", "Arn"]}},
            "ApplyRoleArn": {"Value": {"Fn::GetAtt": ["ApplyRole", "Arn"]}},
            "PulumiBackendUrl": {"Value": {"Fn::Sub": "s3://${StateBucket}"}},
        },
    }


TEMPLATES = {"accounts": accounts_template, "ci": ci_template}


def as_yaml(name: str) -> str:
    out = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.dump(TEMPLATES[name](), out)
    return (
        f"# fleet's {name} template (docs/production.md); `fleet iam --template {name}` prints it.\n" + out.getvalue()
    )
