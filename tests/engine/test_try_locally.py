"""README "Start a fleet of your own" and "Try it locally", followed as written: `fleet init`;
`fleet local` in one shell; in another, the README's block of commands, with the AWS CLI's
check made by boto3 from the same profile (the AWS CLI is not installed here; both read
AWS_CONFIG_FILE the same way)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from ruamel.yaml import YAML

from devtools.pulumi_cli import REPO
from fleet.pki import certificate_id, load_certificate

pytestmark = pytest.mark.engine


def readme_blocks(section: str) -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [[line for line in block.strip().splitlines()] for block in re.findall(r"```\n(.*?)```", body, re.S)]


def start_a_fleet(work: Path, environ: dict[str, str]) -> Path:
    """README "Start a fleet of your own", as written (fleet is installed already, so its pip line is not run)."""
    [steps] = readme_blocks("Start a fleet of your own")
    assert steps[0].startswith("pip install 'fleet[local]==")
    shell = "set -euo pipefail\n" + "\n".join(steps[1:]) + "\ngit branch --show-current\npwd\n"
    done = subprocess.run(["bash", "-c", shell], cwd=work, env=environ, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "manifests: valid: 1 account, 1 CA in 1 placement" in done.stdout, done.stdout
    *_, branch, folder = done.stdout.splitlines()
    # The branch these commands made is the one the apply workflow runs on.
    apply = YAML(typ="safe").load(Path(folder) / ".github/workflows/main.yml")
    assert apply["on"]["push"]["branches"] == [branch], (branch, apply["on"])
    return Path(folder)


def test_try_it_locally_as_the_readme_says(tmp_path: Path) -> None:
    [[start], steps] = readme_blocks("Try it locally")
    assert start == "fleet local"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "FLEET_", "GIT_"))}
    environ |= {"PULUMI_HOME": str(tmp_path / "pulumi-home"), "GIT_AUTHOR_NAME": "team", "GIT_COMMITTER_NAME": "team",
                "GIT_AUTHOR_EMAIL": "team@example.com", "GIT_COMMITTER_EMAIL": "team@example.com"}
    work = start_a_fleet(tmp_path, environ)
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
            cas = session.client("iot").list_ca_certificates()["certificates"]
            identity = session.client("sts").get_caller_identity()
        assert identity["Account"] == "111111111111"  # the profile lands in the account it is named after
        example = (work / "manifests/pki/example-ca.pem").read_bytes()
        assert [(c["certificateId"], c["status"]) for c in cas] == [(certificate_id(load_certificate(example)),
                                                                    "ACTIVE")]
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=10)
