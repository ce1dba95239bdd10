"""The GitHub workflows that users of this repository run against real AWS.

They cannot run here, so this checks what can be checked offline: the pinned
actionlint (scripts/actionlint.sh) accepts them, they fire on the intended
events, and every script they call exists and is also run by the tests, so CI
only runs commands the test suite exercises.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github/workflows"
NAMES = ("pull-request.yml", "main.yml", "drift.yml")
FLEET_PATHS = ["manifests/**", "policies/**", "Pulumi.yaml", "__main__.py", "fleet/**", "scripts/**", "tools/**",
               "requirements.txt", "pyproject.toml"]


def actionlint(*args: str) -> subprocess.CompletedProcess[str]:
    # The first run builds actionlint from the Go module proxy (about half a minute).
    return subprocess.run([str(REPO / "scripts/actionlint.sh"), "-no-color", *args], cwd=REPO,
                          capture_output=True, text=True, check=False, timeout=900)


def load(name: str) -> dict[str, Any]:
    # ruamel.yaml reads YAML 1.2, where the key `on` is the string "on" (YAML 1.1 would make it True).
    workflow: dict[str, Any] = YAML(typ="safe").load(WORKFLOWS / name)
    return workflow


def test_actionlint_accepts_the_workflows() -> None:
    done = actionlint(*(str(WORKFLOWS / name) for name in NAMES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    timeout-minute: 5\n"
                      "    steps:\n      - run: echo '${{ github.event.nope( }}'\n")
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
    roles = [step["with"]["role-to-assume"] for job in (plan["plan"], apply["apply"]) for step in job["steps"]
             if "role-to-assume" in step.get("with", {})]
    assert roles == ["${{ vars.FLEET_PLAN_ROLE_ARN }}", "${{ vars.FLEET_CI_ROLE_ARN }}"]


def _called_scripts() -> list[str]:
    text = "".join((WORKFLOWS / name).read_text() for name in NAMES)
    return sorted(set(re.findall(r"\./scripts/([\w.-]+)", text)))


def _test_sources() -> str:
    """Everything the test suite runs, except this file (which names the scripts only to check them)."""
    files = [path for path in (REPO / "tests").rglob("*") if path.is_file() and path.suffix in {".py", ".sh"}]
    files = [path for path in files if path.resolve() != Path(__file__).resolve()]
    return "".join(path.read_text() for path in [*files, REPO / "scripts/test.sh"])


def test_the_workflows_call_scripts() -> None:
    assert _called_scripts()


@pytest.mark.parametrize("script", _called_scripts())
def test_each_script_a_workflow_calls_exists_and_the_tests_run_it(script: str) -> None:
    path = REPO / "scripts" / script
    assert path.is_file() and os.access(path, os.X_OK), f"scripts/{script} is missing or not executable"
    assert re.search(rf"(?<![\w.-]){re.escape(script)}(?![\w.-])", _test_sources()), (
        f"scripts/{script} is called by a workflow but by no test under tests/ nor scripts/test.sh")


def test_previews_and_drift_checks_read_through_the_reader_role() -> None:
    for name in ("pull-request.yml", "drift.yml"):
        assert load(name)["env"]["FLEET_READER_ROLE"] == "${{ vars.FLEET_READER_ROLE }}", name
    assert "FLEET_READER_ROLE" not in load("main.yml")["env"]
