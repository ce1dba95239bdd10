"""Project-wide rules: pinned versions agree, layers hold, the schema is current,
AWS error codes map to fleet's kinds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fleet.aws import errors
from fleet.cli import json_schema

REPO = Path(__file__).resolve().parents[2]


def test_the_pulumi_sdk_and_engine_are_pinned_to_one_version() -> None:
    sdk_in = re.search(r"^pulumi==(\S+)", (REPO / "requirements.in").read_text(), re.M)
    sdk_txt = re.search(r"^pulumi==(\S+)", (REPO / "requirements.txt").read_text(), re.M)
    engine = re.search(r"github.com/pulumi/pulumi/pkg/v3 v(\S+)", (REPO / "tools/pulumi/go.mod").read_text())
    host = re.search(r"github.com/pulumi/pulumi/sdk/v3 v(\S+)", (REPO / "tools/pulumi/go.mod").read_text())
    assert sdk_in and sdk_txt and engine and host
    assert {sdk_in[1], sdk_txt[1], engine[1], host[1]} == {sdk_in[1]}


def test_the_engine_on_path_reports_the_pinned_version() -> None:
    sdk = re.search(r"^pulumi==(\S+)", (REPO / "requirements.in").read_text(), re.M)
    assert sdk
    version = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version == f"v{sdk[1]}"


def test_the_committed_json_schema_is_generated_from_the_model() -> None:
    assert (REPO / "schema/manifest.schema.json").read_text() == json_schema()


def test_example_manifests_point_editors_at_the_schema() -> None:
    for path in (REPO / "manifests").glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=../schema/manifest.schema.json"), path
    assert json.loads(json_schema())["title"] == "fleet manifest (v1)"


def test_layers_hold() -> None:
    """manifest code imports neither boto3 nor pulumi; only fleet.aws imports boto3."""
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("code", "kind"), sorted(errors.KINDS.items()))
def test_each_aws_error_code_becomes_one_fleet_kind(code: str, kind: type[errors.AwsError]) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "details"}}, "AnyOperation")
    translated = errors.translate(error, "registering CA x")
    assert type(translated) is kind and translated.code == code
    assert str(translated) == f"registering CA x: AWS said {code}: details"


def test_an_unknown_aws_error_code_stays_a_plain_aws_error() -> None:
    error = ClientError({"Error": {"Code": "SomethingNew", "Message": "?"}}, "AnyOperation")
    assert type(errors.translate(error, "x")) is errors.AwsError


@pytest.mark.parametrize("tool", [["ruff", "check", "."], ["mypy"]], ids=["ruff", "mypy-strict"])
def test_static_checks_pass(tool: list[str]) -> None:
    done = subprocess.run([str(Path(sys.executable).parent / tool[0]), *tool[1:]], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
