"""The GitHub workflows that users of this repository run against real AWS.

GitHub cannot be reached from here: tests/engine/test_generated_workflows.py runs
the ones `fleet init` writes (the same templates) step by step with a stand-in
for a runner; this checks what can be checked offline: the pinned actionlint
(scripts/actionlint.sh) accepts them, they fire on the intended events, they
install Pulumi the way Pulumi users do (the official action, at the version
requirements.txt pins), and every fleet command they run is one the test suite
runs too.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github/workflows"
NAMES = ("pull-request.yml", "main.yml", "drift.yml")
FLEET_PATHS = [
    "manifests/**",
    "policies/**",
    "Pulumi.yaml",
    "__main__.py",
    "fleet/**",
    "requirements.txt",
    "pyproject.toml",
]


def actionlint(*args: str) -> subprocess.CompletedProcess[str]:
    # The first run builds actionlint from the Go module proxy (about half a minute).
    return subprocess.run(
        [str(REPO / "scripts/actionlint.sh"), "-no-color", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def load(name: str) -> dict[str, Any]:
    # ruamel.yaml reads YAML 1.2, where the key `on` is the string "on" (YAML 1.1 would make it True).
    workflow: dict[str, Any] = YAML(typ="safe").load(WORKFLOWS / name)
    return workflow


def test_actionlint_accepts_the_workflows() -> None:
    done = actionlint(*(str(WORKFLOWS / name) for name in NAMES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    timeout-minute: 5\n"
        "    steps:\n      - run: echo '${{ github.event.nope( }}'\n"
    )
    done = actionlint(str(broken))
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'unexpected key "timeout-minute"' in done.stdout
    assert "[expression]" in done.stdout


def test_each_workflow_fires_on_its_events() -> None:
    plan, apply, drift = (load(name)["on"] for name in NAMES)
    assert plan == {"pull_request": {"paths": FLEET_PATHS}}
    assert apply == {"push": {"branches": ["main"], "paths": FLEET_PATHS}, "workflow_dispatch": None}
    assert set(drift) == {"schedule", "workflow_dispatch"} and drift["schedule"][0]["cron"]


def test_applies_never_overlap_and_a_drift_check_never_displaces_one() -> None:
    # GitHub keeps one pending run per concurrency group: a shared group would
    # let the hourly drift check cancel a pending apply.
    apply, drift = (load(name)["concurrency"] for name in ("main.yml", "drift.yml"))
    assert apply["group"] != drift["group"]
    assert apply["cancel-in-progress"] is False and drift["cancel-in-progress"] is False


def test_the_plan_and_the_apply_run_in_protectable_environments_with_their_own_roles() -> None:
    plan, apply = (load(name)["jobs"] for name in ("pull-request.yml", "main.yml"))
    assert plan["plan"]["environment"] == "fleet-plan" and apply["apply"]["environment"] == "fleet-production"
    roles = [
        step["with"]["role-to-assume"]
        for job in (plan["plan"], apply["apply"])
        for step in job["steps"]
        if "role-to-assume" in step.get("with", {})
    ]
    assert roles == ["${{ vars.FLEET_PLAN_ROLE_ARN }}", "${{ vars.FLEET_CI_ROLE_ARN }}"]
    # A drift check only reads: the read-only role (docs/production.md trusts it for main's schedule).
    drift = [
        step["with"]["role-to-assume"]
        for job in load("drift.yml")["jobs"].values()
        for step in job["steps"]
        if "role-to-assume" in step.get("with", {})
    ]
    assert drift == ["${{ vars.FLEET_PLAN_ROLE_ARN }}"] * 2


def _steps() -> list[dict[str, Any]]:
    return [step for name in NAMES for job in load(name)["jobs"].values() for step in job["steps"]]


def test_pulumi_comes_from_its_official_action_at_the_pinned_version() -> None:
    pinned = re.search(r"^pulumi==(\S+)", (REPO / "requirements.txt").read_text(), re.M)
    assert pinned
    installs = [step for step in _steps() if str(step.get("uses", "")).startswith("pulumi/actions@")]
    # Every job installs Pulumi but the pull request's audit, which reads the manifests only.
    assert len(installs) == sum(len(load(name)["jobs"]) for name in NAMES) - 1
    assert all(step["with"] == {"pulumi-version": pinned[1]} for step in installs)  # install only, no command
    # Building Pulumi from source is this repository's own test path, never the users' CI.
    assert not any(str(step.get("uses", "")).startswith("actions/setup-go") for step in _steps())
    assert not any("scripts/" in str(step.get("run", "")) for step in _steps())


def _fleet_commands() -> list[str]:
    scripts = "\n".join(str(step.get("run", "")) for step in _steps())
    return sorted(set(re.findall(r"(?<![\w./-])fleet ([a-z][\w-]+)", scripts)))


def test_the_workflows_run_fleet_commands() -> None:
    assert _fleet_commands() == ["audit", "drift", "expiry", "jitr-config", "recover", "review", "validate"]


def _test_sources() -> str:
    """Everything the test suite runs, except this file (which names the commands only to check them)."""
    files = [path for path in (REPO / "tests").rglob("*.py") if path.resolve() != Path(__file__).resolve()]
    return "".join(path.read_text() for path in files)


@pytest.mark.parametrize("command", _fleet_commands())
def test_each_fleet_command_a_workflow_runs_is_run_by_the_tests(command: str) -> None:
    assert re.search(rf"[\"']{re.escape(command)}[\"']", _test_sources()), (
        f"`fleet {command}` is run by a workflow but by no test under tests/"
    )


def test_previews_and_drift_checks_read_through_the_reader_role() -> None:
    for name in ("pull-request.yml", "drift.yml"):
        assert load(name)["env"]["FLEET_READER_ROLE"] == "${{ vars.FLEET_READER_ROLE }}", name
    assert "FLEET_READER_ROLE" not in load("main.yml")["env"]


def test_every_workflow_checks_out_the_whole_history_for_the_revocation_ledger() -> None:
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            [checkout] = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
            assert checkout["with"]["fetch-depth"] == 0, (name, job_name)  # a shallow clone hides the history


def test_a_pull_request_is_checked_against_its_base_for_the_ledger() -> None:
    runs = [str(s.get("run", "")) for s in load("pull-request.yml")["jobs"]["plan"]["steps"]]
    assert 'fleet validate --base "origin/$GITHUB_BASE_REF"' in runs
    assert any(r.startswith('fleet review plan.json --base "origin/$GITHUB_BASE_REF"') for r in runs)


def test_every_stack_runs_in_its_own_job_and_gets_its_own_comment() -> None:
    """A fleet run as several stacks (docs/scale.md, "Sharding a large fleet"): each job that runs
    Pulumi runs once per stack of the FLEET_STACKS variable, and no stack's failure cancels
    another's apply; the manifests' drift check runs once; each stack's review updates its own
    comment, found by the marker `fleet review --stack` writes."""
    from fleet.reports.review import marker

    pulumi_jobs = {
        (name, job_name): job
        for name in NAMES
        for job_name, job in load(name)["jobs"].items()
        if any("pulumi " in str(step.get("run", "")) for step in job["steps"])
    }
    assert set(pulumi_jobs) == {("pull-request.yml", "plan"), ("main.yml", "apply"), ("drift.yml", "state")}
    for job in pulumi_jobs.values():
        assert job["strategy"] == {"fail-fast": False, "matrix": {"stack": "${{ fromJSON(vars.FLEET_STACKS) }}"}}
        assert job["env"]["FLEET_STACK"] == "${{ matrix.stack }}"
        assert all(
            '--stack "$FLEET_STACK"' in str(step["run"])
            for step in job["steps"]
            if "pulumi " in str(step.get("run", ""))
        )
    drift = load("drift.yml")["jobs"]["drift"]
    assert "strategy" not in drift and any("fleet drift" in str(step.get("run", "")) for step in drift["steps"])
    plan = load("pull-request.yml")["jobs"]["plan"]["steps"]
    assert any(
        '--stack "$FLEET_STACK"' in str(step.get("run", ""))
        for step in plan
        if str(step.get("run", "")).startswith("fleet review")
    )
    comment = next(str(step["run"]) for step in plan if step.get("name") == "Comment on the pull request")
    jq_marker = re.search(r'startswith\(("<!-- fleet-review:" \+ env.FLEET_STACK \+ " -->")\)', comment)
    assert jq_marker and marker("shard-a") == "<!-- fleet-review:" + "shard-a" + " -->"
    [upload] = [
        step
        for step in load("main.yml")["jobs"]["apply"]["steps"]
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
    ]
    assert upload["with"]["name"] == "fleet-jitr-${{ matrix.stack }}"  # one artifact per stack, no clash


def test_a_pull_request_is_audited_once_into_code_scanning_and_fails_on_high_findings() -> None:
    """`fleet audit` (Device Defender's checks) runs in a job of its own, with no AWS credentials and no
    environment, uploads its SARIF whatever the audit's exit, and fails on an unsuppressed high or critical
    finding; the drift check audits what AWS holds, through the reader role, even after drift was found."""
    job = load("pull-request.yml")["jobs"]["audit"]
    assert "strategy" not in job and "environment" not in job
    assert job["permissions"] == {"contents": "read", "actions": "read", "security-events": "write"}
    runs = [str(step.get("run", "")) for step in job["steps"]]
    assert "fleet audit --sarif audit.sarif --fail-on high" in runs
    assert not any("role-to-assume" in step.get("with", {}) for step in job["steps"])
    [upload] = [step for step in job["steps"] if str(step.get("uses", "")).startswith("github/codeql-action/")]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "audit.sarif" and "!cancelled()" in upload["if"]
    assert upload["continue-on-error"] == "${{ github.event.pull_request.head.repo.fork == true }}"  # refused there
    drift = load("drift.yml")["jobs"]["drift"]["steps"]
    [audit] = [step for step in drift if "fleet audit" in str(step.get("run", ""))]
    assert "fleet audit --aws --fail-on high" in audit["run"] and "!cancelled()" in audit["if"]


def test_every_apply_reads_aws_first() -> None:
    """Exit 0 means AWS equals the manifests also after changes behind the state's back: the apply
    workflow refreshes, and so does every `pulumi up` and `pulumi preview` of this repository's
    project and of every project `fleet init` writes (tests/engine/test_behind_the_state.py runs them)."""
    ups = [
        str(step["run"])
        for step in load("main.yml")["jobs"]["apply"]["steps"]
        if str(step.get("run", "")).startswith("pulumi up")
    ]
    assert ups and all("--refresh" in up.split() for up in ups)
    for project in (REPO / "Pulumi.yaml", REPO / "fleet/templates/project/Pulumi.yaml"):
        text = project.read_text().replace("%%NAME%%", "fleet")
        assert YAML(typ="safe").load(text)["options"] == {"refresh": "always"}, project
