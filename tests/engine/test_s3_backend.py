"""fleet on the state backend users run with: Pulumi's S3 backend (`pulumi login
s3://...`), here the local endpoint's S3. Up, a refreshed preview and `fleet drift`;
two runs on one stack at once (the second refused by the lock, the first unharmed);
and a killed run recovered by `fleet recover` reading the lock from the bucket."""

from __future__ import annotations

import subprocess
import sys
import time

import boto3
import pytest

from devtools.endpoint import LOCAL_CREDENTIALS
from tests.engine.conftest import BUCKET
from tests.engine.synthetic import Synthetic
from tests.engine.test_interruptions import kill_tree, registered, start_up, wait_for

pytestmark = pytest.mark.engine


def objects(synthetic: Synthetic, prefix: str) -> list[str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=synthetic.aws.url,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_up_preview_and_drift_on_the_s3_backend(on_s3: Synthetic) -> None:
    on_s3.project.up()
    assert "fleet/.pulumi/stacks/fleet/test.json" in objects(on_s3, "fleet/.pulumi/stacks/")  # the state is there
    on_s3.assert_converged()


def test_a_second_run_on_the_stack_is_refused_by_the_lock_and_the_first_finishes(on_s3: Synthetic) -> None:
    first = start_up(on_s3)
    wait_for(lambda: registered(on_s3) >= 4, 300, "the first run to start writing")
    assert objects(on_s3, "fleet/.pulumi/locks/"), "the running up holds no lock in the bucket"
    second = on_s3.project.up(ok=(255, 1, 7))  # refused, whichever engine's exit code
    assert "currently locked" in second.output, second.output
    assert first.wait(timeout=600) == 0
    on_s3.assert_converged()


def test_a_killed_run_on_the_s3_backend_is_recovered(on_s3: Synthetic) -> None:
    up = start_up(on_s3)
    wait_for(lambda: registered(on_s3) >= 10, 300, "a quarter of the registrations")
    kill_tree(up.pid)
    up.wait(timeout=60)
    time.sleep(1)
    assert objects(on_s3, "fleet/.pulumi/locks/"), "the killed run left no lock to recover"
    project = on_s3.project
    recovered = subprocess.run(
        [sys.executable, "-m", "fleet", "recover", "--stack", project.stack],
        cwd=project.workdir,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert recovered.returncode == 0 and "removing the stale lock" in recovered.stdout, (
        recovered.stdout + recovered.stderr
    )
    assert not objects(on_s3, "fleet/.pulumi/locks/")
    result = project.up()
    assert "pending operation" not in result.output and "interrupted while" not in result.output, result.output
    on_s3.assert_converged()
