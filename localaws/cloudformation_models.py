"""Resource types moto's CloudFormation lacks (localaws.cloudformation_fixes says
why each is needed). moto finds types among CloudFormationModel's subclasses,
so importing this module adds them: only the fixes import it, never plain moto.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition


class OidcProvider(CloudFormationModel):
    def __init__(self, arn: str):
        self.arn = arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::IAM::OIDCProvider"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> OidcProvider:
        properties = cloudformation_json["Properties"]
        backend = iam_backends[account_id][get_partition(region_name)]
        provider = backend.create_open_id_connect_provider(
            properties["Url"],
            properties.get("ThumbprintList", []),
            properties.get("ClientIdList", []),
            properties.get("Tags", []),
        )
        return cls(provider.arn)


class BucketPolicy(CloudFormationModel):
    def __init__(self, bucket: str):
        self.bucket = bucket

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> BucketPolicy:
        properties = cloudformation_json["Properties"]
        backend = s3_backends[account_id][get_partition(region_name)]
        backend.put_bucket_policy(properties["Bucket"], json.dumps(properties["PolicyDocument"]).encode())
        return cls(properties["Bucket"])
