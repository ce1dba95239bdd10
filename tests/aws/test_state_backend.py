"""`fleet recover` reads the locks of Pulumi's S3 backend through fleet.aws.state_backend,
addressed as the backend URL says (here the local endpoint's S3, path-style)."""

from __future__ import annotations

import json

import boto3

from devtools.endpoint import LocalAws
from fleet.operations import recovery

BUCKET = "fleet-state"


def test_the_locks_of_an_s3_backend_are_read_for_the_stack_only(local_aws: LocalAws) -> None:
    s3 = boto3.client("s3", endpoint_url=local_aws.url, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for stack, pid in (("prod", 11), ("staging", 12)):
        lock = {"pid": pid, "username": "ci", "hostname": "runner-1", "timestamp": "2026-11-24T01:37:19Z"}
        s3.put_object(
            Bucket=BUCKET, Key=f"fleet/.pulumi/locks/organization/fleet/{stack}/{pid}.json", Body=json.dumps(lock)
        )
    s3.put_object(Bucket=BUCKET, Key="fleet/.pulumi/stacks/organization/fleet/prod.json", Body=b"{}")
    url = f"s3://{BUCKET}/fleet?endpoint={local_aws.url}&region=us-east-1&use_path_style=true"
    locks = recovery.read_locks(url, "fleet", "prod")
    assert [(lock.where, lock.pid) for lock in locks] == [
        (f"s3://{BUCKET}/fleet/.pulumi/locks/organization/fleet/prod/11.json", 11)
    ]
