"""A function's deployment package downloads from GetFunction's Code.Location on
the local endpoint, and not on plain moto 5.2.5 (localaws.lambda_fixes)."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile

import pytest

from devtools.endpoint import LocalAws
from tests.conftest import client_in
from tests.localaws.support import ACCOUNT_A


def deploy(endpoint: LocalAws) -> tuple[bytes, str]:
    """A function with a small package; the package and its Code.Location."""
    iam, lam = client_in(endpoint, "iam", ACCOUNT_A), client_in(endpoint, "lambda", ACCOUNT_A, "eu-west-1")
    role = iam.create_role(
        RoleName="runs-it",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
                ],
            }
        ),
    )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    lam.create_function(
        FunctionName="echo",
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": package.getvalue()},
    )
    return package.getvalue(), str(lam.get_function(FunctionName="echo")["Code"]["Location"])


# API_FunctionCodeLocation.html: "A presigned URL that you can use to download the deployment package."
def test_the_deployment_package_downloads_from_its_code_location(local_aws: LocalAws) -> None:
    package, location = deploy(local_aws)
    with urllib.request.urlopen(location, timeout=10) as answer:  # noqa: S310 (the local endpoint)
        assert answer.read() == package


def test_plain_moto_gives_a_code_location_that_serves_nothing(plain_moto_server: LocalAws) -> None:
    plain_moto_server.reset()
    _, location = deploy(plain_moto_server)
    # An address on AWS's own S3 host (never opened here: no test talks to AWS), not the endpoint's...
    assert location.startswith("https://awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com/")
    # ...and the endpoint itself serves no package.
    served = f"{plain_moto_server.url}/_localaws/lambda-code/{ACCOUNT_A}/eu-west-1/echo"
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(served, timeout=10).close()  # noqa: S310 (the local endpoint)
