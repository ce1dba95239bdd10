"""README "Start a fleet of your own" and "Try it locally", followed as written, with fleet as a user
has it: this repository's wheel `pip install`ed into a new virtualenv (the session's `installed_fleet`),
never this checkout. `fleet init`; `fleet local` in the background; then the README's block of commands,
with the AWS CLI's check made by boto3 from the same profile (the AWS CLI is not installed here; both read
AWS_CONFIG_FILE the same way)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from ruamel.yaml import YAML

from devtools.pulumi_cli import REPO
from fleet.crypto.pki import certificate_id, load_certificate
from tests import wheel

# Alone, after the tests that run side by side (scripts/test.sh): it signals `fleet local` and waits on it.
pytestmark = [pytest.mark.engine, pytest.mark.serial]


def readme_blocks(section: str) -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [[line for line in block.strip().splitlines()] for block in re.findall(r"```\n(.*?)```", body, re.S)]


def start_a_fleet(work: Path, environ: dict[str, str]) -> Path:
    """README "Start a fleet of your own", as written. Its pip line runs too, with no package index: the
    release is not published, so the line holds only if the wheel installed already is what it names."""
    [steps] = readme_blocks("Start a fleet of your own")
    assert steps[0] == f"pip install '{wheel.DISTRIBUTION}[local]=={wheel.VERSION}'"
    shell = "set -euo pipefail\n" + "\n".join(steps) + "\ngit branch --show-current\npwd\n"
    done = subprocess.run(
        ["bash", "-c", shell],
        cwd=work,
        env=environ | {"PIP_NO_INDEX": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "manifests: valid: 1 account, 1 CA in 1 placement" in done.stdout, done.stdout
    *_, branch, folder = done.stdout.splitlines()
    # The branch these commands made is the one the apply workflow runs on.
    apply = YAML(typ="safe").load(Path(folder) / ".github/workflows/main.yml")
    assert apply["on"]["push"]["branches"] == [branch], (branch, apply["on"])
    return Path(folder)


def user_environment(tmp_path: Path, installed: Path) -> dict[str, str]:
    """A shell whose `python`, `pip` and `fleet` are the wheel's virtualenv's (first on PATH, and this
    checkout's virtualenv off it), with the Pulumi CLI on PATH. First on PATH also for `pulumi`: the
    Python language host used here (3.79) ignores Pulumi.yaml's `virtualenv:` and runs `python` from PATH."""
    ours = str(Path(sys.executable).parent)
    path = [str(installed), *(p for p in os.environ["PATH"].split(os.pathsep) if p != ours)]
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PULUMI_", "FLEET_", "GIT_", "PIP_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    return environ | {
        "PATH": os.pathsep.join(path),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "GIT_AUTHOR_NAME": "team",
        "GIT_COMMITTER_NAME": "team",
        "GIT_AUTHOR_EMAIL": "team@example.com",
        "GIT_COMMITTER_EMAIL": "team@example.com",
    }


def test_try_it_locally_as_the_readme_says_with_fleet_installed_from_its_wheel(
    tmp_path: Path, installed_fleet: Path
) -> None:
    [[start], steps] = readme_blocks("Try it locally")
    assert start == "fleet local"
    environ = user_environment(tmp_path, installed_fleet)
    work = start_a_fleet(tmp_path, environ)
    where = subprocess.run(
        ["python", "-c", "import fleet; print(fleet.__file__)"],
        cwd=work,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed_fleet.parent), where.stdout  # not this checkout
    assert not list(work.rglob("__pycache__")) and not list(work.rglob("*.pyc"))
    command = shutil.which("fleet", path=environ["PATH"])
    assert command == str(installed_fleet / "fleet")
    # As a user leaves it running in another shell; port 0 instead of 4566: the test may not own that port.
    endpoint = subprocess.Popen(
        [command, "local", "--port", "0"],
        cwd=work,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert endpoint.stdout is not None
        printed = []
        for line in endpoint.stdout:
            printed.append(line)
            if line.strip() == "ready":
                break
        assert printed and printed[-1].strip() == "ready", "".join(printed) + endpoint.stderr.read()
        assert "  source .fleet-local/env\n" in printed and "  pulumi up --yes\n" in printed, "".join(printed)

        [aws] = [s for s in steps if s.startswith("aws ")]
        shell = "set -euo pipefail\n" + "\n".join(s for s in steps if s is not aws) + "\nenv\n"
        done = subprocess.run(
            ["bash", "-c", shell], cwd=work, env=environ, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        exported = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

        # The AWS CLI's line, by boto3 from the same profile and nothing else of the environment.
        profile = aws.split("--profile ", 1)[1].split()[0]
        with pytest.MonkeyPatch.context() as patch:
            for name in [k for k in os.environ if k.startswith("AWS_")]:
                patch.delenv(name)
            patch.setenv("AWS_CONFIG_FILE", exported["AWS_CONFIG_FILE"])
            session = boto3.Session(profile_name=profile)
            cas = session.client("iot").list_ca_certificates()["certificates"]
            identity = session.client("sts").get_caller_identity()
        assert identity["Account"] == "111111111111"  # the profile lands in the account it is named after
        example = (work / "manifests/pki/example-ca.pem").read_bytes()
        assert [(c["certificateId"], c["status"]) for c in cas] == [
            (certificate_id(load_certificate(example)), "ACTIVE")
        ]
    finally:
        endpoint.send_signal(signal.SIGINT)  # Ctrl-C, as the README says to end it (it ends its endpoint)
        endpoint.wait(timeout=120)  # a guard against a hang (a loaded machine ends it in seconds)
