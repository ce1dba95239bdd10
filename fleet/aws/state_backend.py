"""Pulumi's S3 state backend (``pulumi login s3://BUCKET/PATH?OPTIONS``), read for
fleet.operations.recovery: the objects under a prefix, and one object's bytes. With the
credentials of the job that runs Pulumi (not a deployer role: the bucket is
the backend's, not an account's of the fleet), addressed as the backend URL's
query options say, in both AWS SDK spellings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config


class StateBucket:
    def __init__(self, bucket: str, options: Mapping[str, str], client: Any = None):
        self._bucket = bucket
        self._s3 = client if client is not None else s3_client(options)

    def keys(self, prefix: str) -> Iterator[str]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield str(item["Key"])

    def read(self, key: str) -> bytes:
        return bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())


def s3_client(options: Mapping[str, str]) -> Any:
    """S3 as Pulumi's backend URL addresses it (its query options: endpoint, region,
    disableSSL / disable_https, s3ForcePathStyle / use_path_style)."""
    endpoint = options.get("endpoint")
    if endpoint and "://" not in endpoint:
        plain = "true" in (options.get("disableSSL"), options.get("disable_https"))
        endpoint = ("http://" if plain else "https://") + endpoint
    path_style = "true" in (options.get("s3ForcePathStyle"), options.get("use_path_style"))
    return boto3.client(
        "s3",
        region_name=options.get("region"),
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path" if path_style else "auto"}),
    )
