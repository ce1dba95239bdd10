"""What the just-in-time tests share: the registration event AWS IoT publishes
(developerguide/auto-register-device-cert.html), the configuration fleet
writes, and each place's records as the handler reads them on the local endpoint."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import boto3

from devtools.endpoint import LocalAws
from fleet.aws.registrations import Registrations
from fleet.jitr import configuration
from fleet.jitr.handler import Configuration, RegistrationsIn
from fleet.manifest.desired import Fleet
from tests.conftest import client_in


def registration_event(certificate_id: str, ca_id: str, account_id: str) -> dict[str, Any]:
    return {
        "certificateId": certificate_id,
        "caCertificateId": ca_id,
        "timestamp": 1763900000000,
        "certificateStatus": "PENDING_ACTIVATION",
        "awsAccountId": account_id,
        "certificateRegistrationTimestamp": "1763900000000",
    }


def config_of(fleet: Fleet, revoked: frozenset[str] = frozenset()) -> Configuration:
    """What `pulumi up` ships (and `fleet jitr-config` writes), through its JSON text."""
    text = configuration.as_text(
        configuration.configuration(
            fleet, configuration.revoked_in_manifests(fleet) | revoked, configuration.places_of(fleet)
        )
    )
    return Configuration.of(json.loads(text))


def records_on(endpoint: LocalAws, roles: list[str] | None = None) -> RegistrationsIn:
    """Each place's records as a console user reaches them; ``roles`` collects the role each read asked for."""

    def registrations(account_id: str, region: str, role: str) -> Registrations:
        if roles is not None:
            roles.append(f"{account_id}/{region}:{role}")
        return Registrations(client_in(endpoint, "iot", account_id, region), f"account {account_id}, {region}")

    return registrations


# A fresh interpreter with what AWS's Python runtime has: the package (argv[1]), boto3 and what it needs
# (from argv[2]), the standard library; nothing else imports.
SANDBOX = """
import importlib.abc, sys
sys.path[:0] = [sys.argv[1]]
allowed = set(sys.stdlib_module_names) | {"boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer",
                                          "six", "fleet", "asn1crypto"}
class OnlyTheRuntime(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in allowed:
            raise ImportError(f"{name} is not in Lambda's Python runtime nor in the package")
sys.meta_path.insert(0, OnlyTheRuntime())
sys.path.append(sys.argv[2])
"""
RUN_HANDLER = (
    SANDBOX
    + """
import json
from fleet.jitr.handler import handler
handler(json.loads(sys.argv[3]))
"""
)


def deployed_package(endpoint: LocalAws, account_id: str, region: str) -> bytes:
    """What AWS holds as the function's package (GetFunction's Code.Location: localaws.lambda_fixes)."""
    location = client_in(endpoint, "lambda", account_id, region).get_function(FunctionName="fleet-jitr")["Code"][
        "Location"
    ]
    assert str(location).startswith(endpoint.url), location
    with urllib.request.urlopen(location, timeout=30) as answer:  # noqa: S310 (the local endpoint)
        return bytes(answer.read())


def deployed_configuration(package: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return dict(json.loads(archive.read("fleet-jitr.json")))


def run_deployed(
    package: bytes, folder: Path, event: dict[str, Any], endpoint: LocalAws, account_id: str, region: str
) -> tuple[int, list[dict[str, Any]]]:
    """Run the deployed handler as Lambda would (moto cannot: no Docker): the package unpacked as its task
    root, the function role's credentials, its region; its exit code and the decisions it logged."""
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        archive.extractall(folder)
    credentials = boto3.client("sts", endpoint_url=endpoint.url, region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/fleet-jitr-{region}", RoleSessionName="lambda"
    )["Credentials"]
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "FLEET_AWS_RETRY_SECONDS": "10",
        "FLEET_AWS_ENDPOINT_URL": endpoint.url,
    }  # the one thing Lambda would not have
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            RUN_HANDLER,
            str(folder),
            sysconfig.get_paths()["purelib"],
            json.dumps(event),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    logged = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, logged
