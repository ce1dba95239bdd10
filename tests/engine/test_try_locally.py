"""README "Try it locally", followed as written: `fleet local` in one shell; in another,
the README's block of commands, with the AWS CLI's check made by boto3 from the same
profile (the AWS CLI is not installed here; both read AWS_CONFIG_FILE the same way)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from devtools.benchmark import write_fleet
from devtools.pulumi_cli import REPO

pytestmark = pytest.mark.engine


def readme_blocks(section: str) -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [[line for line in block.strip().splitlines()] for block in re.findall(r"```\n(.*?)```", body, re.S)]


def project(root: Path) -> Path:
    """A fleet project as a team has one: Pulumi.yaml, a thin __main__.py, manifests."""
    root.mkdir()
    venv = REPO / ".cache" / ("venv-oldest" if os.environ.get("FLEET_PULUMI") == "oldest" else "venv")
    (root / "Pulumi.yaml").write_text(
        f"name: fleet\nruntime:\n  name: python\n  options:\n    virtualenv: {venv}\n")
    (root / "__main__.py").write_text("from fleet.program import run\n\nrun()\n")
    write_fleet(root / "manifests", 8)
    return root


def test_try_it_locally_as_the_readme_says(tmp_path: Path) -> None:
    [[start], steps] = readme_blocks("Try it locally")
    assert start == "fleet local"
    work = project(tmp_path / "team-fleet")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "FLEET_"))}
    environ["PULUMI_HOME"] = str(tmp_path / "pulumi-home")
    # Port 0 instead of 4566: the test may not own that port.
    endpoint = subprocess.Popen([sys.executable, "-m", "fleet", "local", "--port", "0"], cwd=work, env=environ,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
        done = subprocess.run(["bash", "-c", shell], cwd=work, env=environ, capture_output=True, text=True,
                              timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        exported = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

        # The AWS CLI's line, by boto3 from the same profile and nothing else of the environment.
        profile = aws.split("--profile ", 1)[1].split()[0]
        with pytest.MonkeyPatch.context() as patch:
            for name in [k for k in os.environ if k.startswith("AWS_")]:
                patch.delenv(name)
            patch.setenv("AWS_CONFIG_FILE", exported["AWS_CONFIG_FILE"])
            session = boto3.Session(profile_name=profile)
            certificates = session.client("iot").list_certificates()["certificates"]
            identity = session.client("sts").get_caller_identity()
        assert identity["Account"] == "111111111111"  # the profile lands in the account it is named after
        assert len(certificates) == 2 and {c["status"] for c in certificates} == {"ACTIVE"}  # prod/us-east-1
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=10)
