"""The stand-in for a GitHub runner that runs the generated workflows (tests/engine/github_runner.py):
it evaluates what GitHub would, and fails where it cannot, rather than skipping or reading empty."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.engine.github_expressions import Evaluator, Unevaluable, condition, functions, substitute
from tests.engine.github_runner import Event, NotTriggered, Runner


def evaluator(tmp_path: Path, **status: bool) -> Evaluator:
    contexts = {
        "vars": {"FLEET_STACKS": '["a", "b"]', "AWS_REGION": "us-east-1"},
        "secrets": {"KEY": "s"},
        "matrix": {"stack": "a"},
        "github": {"event": {"pull_request": {"number": 7}}, "base_ref": "trunk"},
        "env": {},
        "steps": {},
    }
    return Evaluator(
        contexts, functions(tmp_path, {"success": True, "failure": False, "cancelled": False, "always": True, **status})
    )


def test_the_expressions_the_workflows_use_evaluate_as_github_would(tmp_path: Path) -> None:
    e = evaluator(tmp_path)
    assert substitute("${{ fromJSON(vars.FLEET_STACKS) }}", e) == ["a", "b"]  # alone: keeps its type
    assert substitute("fleet-jitr-${{ matrix.stack }}", e) == "fleet-jitr-a"
    assert substitute("fleet-plan-${{ github.event.pull_request.number }}", e) == "fleet-plan-7"
    assert substitute({"k": "${{ secrets.KEY }}"}, e) == {"k": "s"}
    assert e.evaluate("github.base_ref == 'TRUNK'") is True  # strings compare case-insensitively
    assert e.evaluate("format('{0}/{1}', matrix.stack, 'x')") == "a/x"
    assert condition("${{ !cancelled() && hashFiles('plan.json') != '' }}", e) is False
    (tmp_path / "plan.json").write_text("{}")
    assert condition("${{ !cancelled() && hashFiles('plan.json') != '' }}", e) is True
    # Without a status check, `if:` means success() && (...): a failed job skips it.
    assert condition("hashFiles('plan.json') != ''", evaluator(tmp_path, success=False, failure=True)) is False
    assert condition("always()", evaluator(tmp_path, success=False, failure=True)) is True


@pytest.mark.parametrize(
    "expression",
    [
        "vars.NOT_SET",
        "secrets.NOPE",
        "github.event.issue.number",
        "nope.x",
        "toLower('A')",
        "matrix.stack ==",
        "1 == '1'",
        "vars.AWS_REGION <",
    ],
)
def test_what_the_table_does_not_hold_fails_instead_of_reading_empty(tmp_path: Path, expression: str) -> None:
    with pytest.raises(Unevaluable):
        substitute(f"x ${{{{ {expression} }}}}", evaluator(tmp_path))


WORKFLOW = """\
on:
  pull_request:
defaults:
  run:
    shell: bash
env:
  FROM_WORKFLOW: ${{ vars.AWS_REGION }}
jobs:
  one:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        stack: ${{ fromJSON(vars.FLEET_STACKS) }}
    env:
      FLEET_STACK: ${{ matrix.stack }}
    steps:
      - name: says
        run: |
          echo "base=$GITHUB_BASE_REF stack=$FLEET_STACK region=$FROM_WORKFLOW step=$FROM_STEP pwd=$PWD"
          echo "EXPORTED=yes" >> "$GITHUB_ENV"
        env:
          FROM_STEP: ${{ github.event.pull_request.number }}
      - name: fails
        run: test "$EXPORTED" = yes && false | true && exit 3
      - name: skipped
        run: echo never
      - name: always
        if: ${{ always() }}
        run: echo "still $EXPORTED"
"""


def runner(tmp_path: Path) -> Runner:
    return Runner(
        origin=tmp_path / "origin.git",
        scratch=tmp_path / "runner",
        environment={"PATH": os.environ["PATH"]},
        vars={"AWS_REGION": "us-east-1", "FLEET_STACKS": '["a", "b"]'},
        secrets={},
        endpoint="http://127.0.0.1:9",
        base_credentials={},
    )


def pull_request() -> Event:
    return Event(
        "pull_request",
        "refs/pull/7/merge",
        "0" * 40,
        base_ref="trunk",
        head_ref="topic",
        payload={"pull_request": {"number": 7}},
    )


def test_a_job_runs_its_steps_in_order_with_githubs_environment_and_stops_at_a_failure(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text(WORKFLOW)
    jobs = runner(tmp_path).run(workflow, pull_request())
    assert [job.matrix for job in jobs] == [{"stack": "a"}, {"stack": "b"}]
    one = jobs[0]
    assert [(s.name, s.outcome) for s in one.steps] == [
        ("says", "success"),
        ("fails", "failure"),
        ("skipped", "skipped"),
        ("always", "success"),
    ]
    assert f"base=trunk stack=a region=us-east-1 step=7 pwd={one.workspace}\n" in one.step("says").output
    # pipefail: `false | true` fails (without it the pipe succeeds and the step exits 3).
    assert one.step("fails").output == "exit 1\n"
    assert "still yes" in one.step("always").output


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("      - name: says\n", "      - uses: actions/cache@v4\n      - name: says\n"),
        ("${{ github.event.pull_request.number }}", "${{ github.event.pull_request.title }}"),
        ("    shell: bash\n", "    shell: sh\n"),
    ],
)
def test_a_step_the_runner_cannot_stand_in_for_fails_the_run(tmp_path: Path, change: str, error: str) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text(WORKFLOW.replace(change, error))
    with pytest.raises(Unevaluable):
        runner(tmp_path).run(workflow, pull_request())


def test_an_event_the_workflow_does_not_listen_to_runs_nothing(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text(WORKFLOW.replace("  pull_request:\n", "  push:\n    branches: [trunk]\n"))
    with pytest.raises(NotTriggered):
        runner(tmp_path).run(workflow, pull_request())
    with pytest.raises(NotTriggered):
        runner(tmp_path).run(workflow, Event("push", "refs/heads/main", "0" * 40))


def test_the_checkout_stand_in_fetches_the_base_branch_and_the_whole_history_only_when_asked(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    work = tmp_path / "work"

    def git(*args: str, cwd: Path = work) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    subprocess.run(["git", "init", "-q", "--bare", "-b", "trunk", str(tmp_path / "origin.git")], check=True)
    work.mkdir()
    git("init", "-q", "-b", "trunk")
    for n in range(3):
        (work / "f").write_text(str(n))
        git("add", "f")
        git("commit", "-qm", str(n))
    git("push", "-q", (tmp_path / "origin.git").as_uri(), "trunk", "HEAD:refs/pull/7/merge")
    steps = (
        "      - uses: actions/checkout@v5\n        with:\n          fetch-depth: {depth}\n"
        "      - name: look\n        run: |\n          git rev-parse --is-shallow-repository\n"
        "          git rev-list --count HEAD\n          git rev-parse --verify -q origin/trunk || echo none\n"
    )
    run = runner(tmp_path)
    for depth, seen in ((0, "false\n3\n" + git("rev-parse", "HEAD")), (1, "true\n1\nnone")):
        workflow = tmp_path / f"depth-{depth}.yml"
        workflow.write_text(WORKFLOW.split("    steps:\n")[0] + "    steps:\n" + steps.format(depth=depth))
        job = run.run(workflow, pull_request())[0]
        assert job.step("look").output.split("\n", 1)[1].strip() == seen, job.log()
