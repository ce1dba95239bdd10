"""fleet's fixes to moto's CloudFormation, for the production templates
(docs/cloudformation/) that tests deploy to the local endpoint.

moto's CloudFormation skips resource types and properties it does not know
with a warning, so a template that AWS deploys whole would come out partial:

- ``AWS::IAM::OIDCProvider`` (CI's GitHub identity provider) is not created:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-oidcprovider.html
  (``Ref`` returns the provider's ARN).
- ``AWS::S3::Bucket``'s ``VersioningConfiguration`` and
  ``PublicAccessBlockConfiguration`` are ignored:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html
- ``AWS::IAM::Role``'s inline ``Policies`` are kept as Python's text of the
  document, so GetRolePolicy answers something that is not JSON:
  https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
- ``AWS::IAM::Role``'s ``ManagedPolicyArns`` are not attached, and moto holds
  none of AWS's managed policies unless told to load them all (a thousand per
  account): the one a template names is loaded from moto's own copy.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-iam-role.html
- ``AWS::S3::BucketPolicy`` is not created:
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucketpolicy.html

tests/localaws/test_cloudformation_fixes.py fails on plain moto for each.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.cloudformation import parsing
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, Role, iam_backends
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

_create_bucket = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _bucket_from_template(
    cls: type[FakeBucket],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> FakeBucket:
    bucket = _create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json.get("Properties", {})
    backend = s3_backends[account_id][get_partition(region_name)]
    if "VersioningConfiguration" in properties:
        backend.put_bucket_versioning(bucket.name, properties["VersioningConfiguration"]["Status"])
    if "PublicAccessBlockConfiguration" in properties:
        backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    return bucket


_create_role = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _role_from_template(
    cls: type[Role],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Role:
    properties = dict(cloudformation_json["Properties"])
    properties["Policies"] = [
        {
            **policy,
            "PolicyDocument": policy["PolicyDocument"]
            if isinstance(policy["PolicyDocument"], str)
            else json.dumps(policy["PolicyDocument"]),
        }
        for policy in properties.get("Policies", [])
    ]
    role: Role = _create_role(
        cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id, region_name, **kwargs
    )
    backend = iam_backends[account_id][get_partition(region_name)]
    for arn in properties.get("ManagedPolicyArns", []):
        name = arn.rsplit("/", 1)[1]
        if arn not in backend.managed_policies and ":iam::aws:policy/" in arn and name in _aws_policies():
            backend.managed_policies[arn] = AWSManagedPolicy.from_data(
                name, account_id, region_name, _aws_policies()[name]
            )
        backend.attach_role_policy(arn, role.name)
    return role


@functools.cache
def _aws_policies() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(aws_managed_policies_data)
    return parsed


def apply() -> None:
    from localaws import cloudformation_models  # noqa: F401 (defining the types registers them)

    Role.create_from_cloudformation_json = classmethod(_role_from_template)  # type: ignore[method-assign,assignment]
    FakeBucket.create_from_cloudformation_json = classmethod(_bucket_from_template)  # type: ignore[method-assign,assignment]
    # moto finds resource types among CloudFormationModel's subclasses, cached on first use.
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
