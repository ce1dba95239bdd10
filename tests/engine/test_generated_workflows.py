"""The workflows `fleet init` writes, run as they are written, step by step, by a stand-in
for a GitHub runner (tests/engine/github_runner.py): a pull request's plan and comment, a
second push to it, its merge's apply, and the scheduled drift check, in a fleet made by
`fleet init` whose default branch is not main, against the local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.endpoint import LocalAws
from devtools.pki import issue, make_ca
from fleet.crypto.pki import certificate_id, load_certificate
from fleet.operations import local
from fleet.reports.review import marker
from tests.conftest import client_in
from tests.engine.github_runner import REPOSITORY, Event, Job, NotTriggered, Runner, comments

pytestmark = pytest.mark.engine

BRANCH = "trunk"  # not main, nor git's master: nothing may assume either
CI_ACCOUNT = "999999999999"
NAMES = {
    "GIT_AUTHOR_NAME": "team",
    "GIT_AUTHOR_EMAIL": "team@example.com",
    "GIT_COMMITTER_NAME": "team",
    "GIT_COMMITTER_EMAIL": "team@example.com",
}
FACTORY = """\
  factory-root:
    certificate: pki/factory-root.pem
    private_key:
      env: FLEET_CA_KEY_FACTORY_ROOT
    mode: DEFAULT
    placements:
      - account: prod
        status: ACTIVE
"""
LINE_1 = """\
device_certificates:
  line-1:
    ca: factory-root
    certificates: pki/devices/line-1
    status: ACTIVE
    policies: [telemetry]
    exceptions:
      - certificate: pki/devices/line-1/device-2.pem
        status: REVOKED
        revocation: {reason: device reported stolen, date: 2026-11-20}
"""


class Team:
    """A team's fleet repository and its origin (a bare repository, as GitHub holds it)."""

    def __init__(self, tmp_path: Path, environ: dict[str, str]):
        self.environ = environ
        self.origin = tmp_path / "origin.git"
        self.root = tmp_path / "team-fleet"

    def run(self, *command: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            command,
            cwd=self.root,
            env={**self.environ, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        return done.stdout

    def fleet(self, *args: str) -> str:
        return self.run(sys.executable, "-m", "fleet", *args)

    def git(self, *args: str) -> str:
        return self.run("git", *args).strip()

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.root / path
        text = file.read_text()
        assert old in text, (old, path)
        file.write_text(text.replace(old, new, 1))

    def pull_request(self, number: int, branch: str) -> Event:
        """The branch pushed, and GitHub's merge ref for it (refs/pull/N/merge: the branch merged into the base)."""
        self.git("push", "-q", "origin", branch)
        self.git("checkout", "-q", "--detach", BRANCH)
        self.git("merge", "-q", "--no-ff", branch, "-m", f"Merge {branch} into {BRANCH}")
        merge = self.git("rev-parse", "HEAD")
        self.git("push", "-q", "--force", "origin", f"HEAD:refs/pull/{number}/merge")
        self.git("checkout", "-q", branch)
        return Event(
            "pull_request",
            f"refs/pull/{number}/merge",
            merge,
            base_ref=BRANCH,
            head_ref=branch,
            payload={
                "pull_request": {
                    "number": number,
                    "base": {"ref": BRANCH},
                    "head": {"ref": branch, "repo": {"fork": False, "full_name": REPOSITORY}},
                },
                "repository": {"full_name": REPOSITORY, "default_branch": BRANCH},
            },
        )

    def push(self, branch: str) -> Event:
        self.git("push", "-q", "origin", branch)
        return Event(
            "push",
            f"refs/heads/{branch}",
            self.git("rev-parse", branch),
            payload={"repository": {"full_name": REPOSITORY, "default_branch": BRANCH}},
        )


def succeeded(jobs: list[Job], count: int) -> list[Job]:
    assert len(jobs) == count, [(j.name, j.matrix) for j in jobs]
    for job in jobs:  # every step ran (none skipped by its `if:`) and succeeded
        assert job.steps and all(step.outcome == "success" for step in job.steps), job.log()
    return jobs


def test_the_generated_workflows_run_as_written_from_a_pull_request_to_its_apply_and_drift_check(
    tmp_path: Path, own_local_aws: LocalAws
) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "FLEET_", "GIT_", "PIP_"))}
    environ |= {
        **NAMES,
        "HOME": str(tmp_path / "home"),
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_SKIP_UPDATE_CHECK": "1",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    (tmp_path / "home").mkdir()
    # `fleet local`'s environment: its credentials, a file backend for the state and its passphrase.
    backend = local.environment(own_local_aws.url, tmp_path / "backend")
    (tmp_path / "backend" / "state").mkdir(parents=True)
    team = Team(tmp_path, environ)

    # README "Start a fleet of your own", then docs/production.md "The first stack".
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet",
            "init",
            "team-fleet",
            "--account",
            "prod",
            "--account-id",
            "111111111111",
            "--default-branch",
            BRANCH,
        ],
        cwd=tmp_path,
        env=environ,
        check=True,
        capture_output=True,
    )
    team.git("init", "-q", "-b", BRANCH)
    team.git("add", "-A")
    team.git("commit", "-qm", "A new fleet")
    team.run(
        "pulumi",
        "stack",
        "init",
        "prod",
        "--secrets-provider",
        "passphrase",
        "--non-interactive",
        env={k: backend[k] for k in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")},
    )
    team.git("add", "Pulumi.prod.yaml")
    team.git("commit", "-qm", "The prod stack")
    subprocess.run(["git", "init", "-q", "--bare", "-b", BRANCH, str(team.origin)], check=True, env=environ)
    team.git("remote", "add", "origin", team.origin.as_uri())
    team.push(BRANCH)

    # The repository's variables and secrets, as docs/production.md sets them.
    factory = make_ca("factory root")
    store = tmp_path / "github.json"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(
        f'#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / "gh_stand_in.py"} {store} "$@"\n'
    )
    (bin_dir / "gh").chmod(0o755)
    runner = Runner(
        origin=team.origin,
        scratch=tmp_path / "runner",
        endpoint=own_local_aws.url,
        base_credentials=local.CREDENTIALS,
        environment={
            **environ,
            "PATH": f"{bin_dir}:{environ['PATH']}",
            "FLEET_AWS_ENDPOINT_URL": own_local_aws.url,
            # setup-python's stand-in is this virtualenv, which holds what requirements.txt pins.
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        },
        vars={
            "PULUMI_BACKEND_URL": backend["PULUMI_BACKEND_URL"],
            "FLEET_STACKS": '["prod"]',
            "FLEET_PLAN_ROLE_ARN": f"arn:aws:iam::{CI_ACCOUNT}:role/fleet-ci-plan",
            "FLEET_CI_ROLE_ARN": f"arn:aws:iam::{CI_ACCOUNT}:role/fleet-ci-apply",
            "FLEET_READER_ROLE": "fleet-reader",
            "AWS_REGION": "us-east-1",
        },
        secrets={
            "PULUMI_CONFIG_PASSPHRASE": backend["PULUMI_CONFIG_PASSPHRASE"],
            "FLEET_CA_KEY_FACTORY_ROOT": factory.key_pem,
        },
    )
    workflows = team.root / ".github" / "workflows"

    # A pull request: a DEFAULT-mode CA of the team's own, and devices under it, one revoked.
    team.git("checkout", "-q", "-b", "factory-line")
    factory.write(team.root / "manifests/pki/factory-root.pem")
    devices = [issue(factory, f"device-{n}") for n in range(4)]
    for n, device in enumerate(devices[:3]):
        device.write(team.root / f"manifests/pki/devices/line-1/device-{n}.pem")
    team.edit("manifests/cas.yaml", "\n  # A CA of your own in DEFAULT mode", "\n" + FACTORY + "\n  # A CA of your own")
    team.edit("manifests/devices.yaml", "device_certificates: {}\n", LINE_1)
    team.fleet("record-revocations")
    assert team.fleet("workflows").splitlines() == ["wrote .github/workflows/main.yml"]
    team.git("add", "-A")
    team.git("commit", "-qm", "The factory's CA and line 1")

    plan, audit = succeeded(runner.run(workflows / "pull-request.yml", team.pull_request(1, "factory-line")), 2)
    assert (audit.name, plan.name, plan.matrix) == ("audit", "plan", {"stack": "prod"})
    [scan] = runner.code_scanning("fleet-audit")["runs"]
    assert scan["results"] == [], scan["results"]  # a sound fleet: no finding, and the SARIF is valid
    assert (
        "manifests: valid: 1 account, 2 CAs in 2 placements, 3 device certificates in 1 group"
        in plan.step("Validate the manifests (and that the revocation ledger only grew)").output
    )
    [comment] = comments(store)
    review = (plan.workspace / "review.md").read_text()
    assert comment["body"] == review and comment["issue"] == 1 and comment["updates"] == 0
    assert review.startswith(marker("prod") + "\n## fleet: planned changes to stack `prod`")
    assert "- CA `factory-root`: registered (DEFAULT), ACTIVE" in review
    assert "1 certificate(s) registered REVOKED (the record AWS keeps of a revocation)\n  - `" in review
    assert "pki/devices/line-1/device-2.pem" in review

    # A second push to the pull request: its plan runs again and updates the same comment.
    devices[3].write(team.root / "manifests/pki/devices/line-1/device-3.pem")
    team.git("add", "-A")
    team.git("commit", "-qm", "One more device")
    again, _ = succeeded(runner.run(workflows / "pull-request.yml", team.pull_request(1, "factory-line")), 2)
    [comment] = comments(store)
    assert comment["updates"] == 1 and comment["body"] == (again.workspace / "review.md").read_text() != review
    assert "device-3.pem" in comment["body"]

    # Merged into the default branch: the apply, with the CA's key from the environment's secret.
    team.git("checkout", "-q", BRANCH)
    team.git("merge", "-q", "--no-ff", "factory-line", "-m", "Merge pull request #1")
    [apply] = succeeded(runner.run(workflows / "main.yml", team.push(BRANCH)), 1)
    iot = client_in(own_local_aws, "iot", "111111111111")
    ca = iot.describe_ca_certificate(certificateId=certificate_id(factory.cert))["certificateDescription"]
    assert (ca["status"], ca["certificateMode"]) == ("ACTIVE", "DEFAULT")
    statuses = {c["certificateId"]: c["status"] for c in iot.list_certificates()["certificates"]}
    ids = [certificate_id(d.cert) for d in devices]
    assert [statuses.get(i) for i in ids] == ["ACTIVE", "ACTIVE", "REVOKED", "ACTIVE"]
    example = certificate_id(load_certificate((team.root / "manifests/pki/example-ca.pem").read_bytes()))
    assert iot.describe_ca_certificate(certificateId=example)["certificateDescription"]["status"] == "ACTIVE"
    jitr = json.loads(runner.artifact("fleet-jitr-prod").read_text())
    assert ids[2] in json.dumps(jitr)

    # The scheduled drift check, on the default branch: nothing drifted.
    schedule = Event(
        "schedule",
        f"refs/heads/{BRANCH}",
        team.git("rev-parse", BRANCH),
        payload={"repository": {"full_name": REPOSITORY, "default_branch": BRANCH}},
    )
    drift, state = succeeded(runner.run(workflows / "drift.yml", schedule), 2)
    assert (drift.name, state.name, state.matrix) == ("drift", "state", {"stack": "prod"})
    assert "exit 0" in drift.step("AWS against the manifests").output
    summary = (drift.workspace.parent.parent / "github_step_summary.txt").read_text()  # its GITHUB_STEP_SUMMARY
    # The drift report first, the audit of what AWS holds, and last the certificates about to expire.
    assert summary == (
        "```\nNo drift: AWS matches the manifests.\n```\n```\nAWS: no findings\n```\n"
        "```\nNo CA or device certificate expires within 30 days.\n```\n"
    ), summary
    assert "exit 0" in drift.step("Certificates about to expire").output

    # A push to a branch that is not the default one applies nothing.
    team.git("checkout", "-q", "-b", "main")
    with pytest.raises(NotTriggered):
        runner.run(workflows / "main.yml", team.push("main"))
