"""Each fix fleet makes to moto's CloudFormation holds on the local endpoint, and fails on plain
moto 5.2.5 (localaws.cloudformation_fixes): the production templates need all three."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devtools.endpoint import LocalAws
from tests.conftest import client_in
from tests.localaws.support import ACCOUNT_A

Clients = Callable[[str], Any]


def deploy(clients: Clients, name: str, resources: dict[str, Any]) -> dict[str, str]:
    """Create a stack; its outputs (one per resource: its Ref)."""
    template = {"Resources": resources, "Outputs": {key: {"Value": {"Ref": key}} for key in resources}}
    cloudformation = clients("cloudformation")
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    [stack] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


# aws-resource-iam-oidcprovider.html: the stack creates the provider; Ref is its ARN.
def creates_an_oidc_provider(clients: Clients) -> None:
    outputs = deploy(
        clients,
        "oidc",
        {
            "GitHub": {
                "Type": "AWS::IAM::OIDCProvider",
                "Properties": {
                    "Url": "https://token.actions.githubusercontent.com",
                    "ClientIdList": ["sts.amazonaws.com"],
                    "ThumbprintList": ["6938fd4d98bab03faadb97b34396831e3780aea1"],
                },
            }
        },
    )
    arn = f"arn:aws:iam::{ACCOUNT_A}:oidc-provider/token.actions.githubusercontent.com"
    assert outputs["GitHub"] == arn
    provider = clients("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]


# aws-resource-s3-bucket.html: VersioningConfiguration and PublicAccessBlockConfiguration apply.
def versions_and_blocks_a_bucket(clients: Clients) -> None:
    deploy(
        clients,
        "bucket",
        {
            "State": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "fleet-state-fixes",
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    },
                },
            }
        },
    )
    s3 = clients("s3")
    assert s3.get_bucket_versioning(Bucket="fleet-state-fixes")["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket="fleet-state-fixes")["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


# aws-resource-s3-bucketpolicy.html: the policy is put on the bucket.
def puts_a_bucket_policy(clients: Clients) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::fleet-state-policy", "arn:aws:s3:::fleet-state-policy/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    deploy(
        clients,
        "policy",
        {
            "State": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "fleet-state-policy"}},
            "Policy": {
                "Type": "AWS::S3::BucketPolicy",
                "DependsOn": "State",
                "Properties": {"Bucket": "fleet-state-policy", "PolicyDocument": document},
            },
        },
    )
    assert json.loads(clients("s3").get_bucket_policy(Bucket="fleet-state-policy")["Policy"]) == document


# API_GetRolePolicy.html: a role's inline policy comes back as its JSON document.
def keeps_inline_role_policies_as_json(clients: Clients) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:List*", "Resource": "*"}]}
    deploy(
        clients,
        "role",
        {
            "Reader": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "reader",
                    "Policies": [{"PolicyName": "read", "PolicyDocument": document}],
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "iot.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                },
            }
        },
    )
    assert clients("iam").get_role_policy(RoleName="reader", PolicyName="read")["PolicyDocument"] == document


# aws-resource-iam-role.html: ManagedPolicyArns are attached, AWS's own managed policies included.
def attaches_managed_policies(clients: Clients) -> None:
    registration = "arn:aws:iam::aws:policy/service-role/AWSIoTThingsRegistration"
    deploy(
        clients,
        "jitp",
        {
            "Jitp": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "jitp",
                    "ManagedPolicyArns": [registration],
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "iot.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                },
            }
        },
    )
    attached = clients("iam").list_attached_role_policies(RoleName="jitp")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [registration]


CHECKS = [
    keeps_inline_role_policies_as_json,
    attaches_managed_policies,
    creates_an_oidc_provider,
    versions_and_blocks_a_bucket,
    puts_a_bucket_policy,
]


def clients_on(endpoint: LocalAws) -> Clients:
    return lambda service: client_in(endpoint, service, ACCOUNT_A)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_the_local_endpoint(check: Callable[[Clients], None], local_aws: LocalAws) -> None:
    check(clients_on(local_aws))


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_plain_moto_fails_without_the_fix(check: Callable[[Clients], None], plain_moto_server: LocalAws) -> None:
    from botocore.exceptions import ClientError

    plain_moto_server.reset()
    with pytest.raises((AssertionError, ClientError, KeyError)):
        check(clients_on(plain_moto_server))
