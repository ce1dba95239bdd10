"""Project-wide rules: pinned versions agree, layers hold, the schema is current,
AWS error codes map to fleet's kinds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from fleet.aws import errors
from fleet.cli import json_schema

REPO = Path(__file__).resolve().parents[2]


def _pin(path: str, pattern: str) -> str:
    found = re.search(pattern, (REPO / path).read_text(), re.M)
    assert found, f"{pattern} not in {path}"
    return found[1]


def _pulumi(lock: str) -> str:
    return _pin(lock, r"^pulumi==(\S+)")


def _module(module: str, requirement: str) -> str:
    return _pin(f"tools/{module}/go.mod", rf"^\s*github.com/pulumi/pulumi/{requirement} v(\S+)")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_current_engine_is_built_at_the_sdks_version_or_the_nearest_later_one() -> None:
    """The module proxy here refuses pkg/v3 at some releases (3.261-3.273): the
    engine is then the nearest later release it serves (scripts/toolchain.sh)."""
    current = _pulumi("requirements.in")
    assert _pulumi("requirements.txt") == current
    engine = _module("pulumi", "pkg/v3")
    assert _module("pulumi", "sdk/v3") == engine
    sdk_major, sdk_minor, _ = _version(current)
    engine_major, engine_minor, _ = _version(engine)
    assert _version(current) <= _version(engine) and engine_major == sdk_major and engine_minor - sdk_minor <= 5


def test_the_oldest_supported_toolchain_is_3_79_throughout() -> None:
    assert _pulumi("requirements-oldest.txt") == "3.79.0"
    assert _module("pulumi-3.79", "pkg/v3") == _module("pulumi-3.79", "sdk/v3") == "3.79.0"
    # The Python language host of every toolchain: the newest the module proxy here serves.
    assert _module("pulumi-language-python", "sdk/v3") == "3.79.0"


def test_both_locks_differ_only_where_the_pulumi_version_does() -> None:
    def names(lock: str) -> set[str]:
        return {line.split("==")[0].lower() for line in (REPO / lock).read_text().splitlines() if "==" in line}

    # What later pulumi releases added (OpenTelemetry, debugpy) is all that may differ, and pulumi-aws's SDK (it
    # needs pulumi >= 3.231; only a test on the current toolchain imports it: tests/aws/test_component_mocks.py).
    extra = names("requirements.txt") - names("requirements-oldest.txt")
    assert all(
        name.startswith(("opentelemetry", "debugpy", "googleapis-common-protos", "pulumi_aws")) for name in extra
    ), extra
    assert names("requirements-oldest.txt") <= names("requirements.txt")


def test_pyproject_declares_a_range_that_holds_both_ends() -> None:
    declared = _pin("pyproject.toml", r'"pulumi(>=[^"]+)"')
    assert declared == ">=3.79,<4"


def test_the_engine_on_path_is_the_toolchain_in_use() -> None:
    oldest = os.environ.get("FLEET_PULUMI") == "oldest"
    # The engine module's version, or the SDK's (a CLI of that version on PATH is used as it is).
    wanted = {
        _module("pulumi-3.79" if oldest else "pulumi", "pkg/v3"),
        _pulumi("requirements-oldest.txt" if oldest else "requirements.txt"),
    }
    version = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert version.removeprefix("v") in wanted
    assert os.environ["PULUMI_VERSION"] == version.removeprefix("v")


def test_the_committed_json_schema_is_generated_from_the_model() -> None:
    assert (REPO / "schema/manifest.schema.json").read_text() == json_schema()


def test_example_manifests_point_editors_at_the_schema() -> None:
    for path in (REPO / "manifests").glob("*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=../schema/manifest.schema.json"), path
    assert json.loads(json_schema())["title"] == "fleet manifest (v1)"


def test_layers_hold() -> None:
    """Each package imports only the layers below it (cli down to aws); manifest code imports neither boto3 nor
    pulumi; only fleet.aws imports boto3."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_fleet_keeps_at_most_eight_modules_at_its_top_and_every_package_is_in_a_layer() -> None:
    fleet = REPO / "fleet"
    modules = sorted(path.name for path in fleet.glob("*.py"))
    assert len(modules) <= 8, modules
    config = (REPO / "pyproject.toml").read_text()
    layered = set(re.findall(r"\bfleet\.(\w+)", config[config.index('type = "layers"') :].split("]")[0]))
    packages = {path.parent.name for path in fleet.glob("*/__init__.py")} - {"templates"}
    assert packages | {m.removesuffix(".py") for m in modules} - {"__init__", "__main__"} <= layered


def test_repositories_written_before_fleet_was_a_component_still_run() -> None:
    """Their __main__.py (fleet init before 0.3) is `from fleet.program import run; run()`."""
    from fleet.program import run

    assert callable(run)


@pytest.mark.parametrize(("code", "kind"), sorted(errors.KINDS.items()))
def test_each_aws_error_code_becomes_one_fleet_kind(code: str, kind: type[errors.AwsError]) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "details"}}, "AnyOperation")
    translated = errors.translate(error, "registering CA x")
    assert type(translated) is kind and translated.code == code
    retried = errors.RETRIED if kind is errors.Unavailable or code in errors.THROTTLED else ""
    assert str(translated) == f"registering CA x: AWS said {code} to AnyOperation: details{retried}"


def test_an_unknown_aws_error_code_stays_a_plain_aws_error() -> None:
    error = ClientError({"Error": {"Code": "SomethingNew", "Message": "?"}}, "AnyOperation")
    assert type(errors.translate(error, "x")) is errors.AwsError


@pytest.mark.parametrize(
    "tool",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff", "ruff-format", "mypy-strict"],
)
def test_static_checks_pass(tool: list[str]) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / tool[0]), *tool[1:]], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
