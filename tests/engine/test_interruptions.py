"""`kill -9` in the middle of `pulumi up`: the whole process tree, the CLI alone, the
program alone, the provider alone. Then `fleet recover` (what the workflows run
before every up) and one `pulumi up` must converge: exit 0, no lingering warning
about interrupted operations, AWS equal to the manifests, nothing duplicated or
lost. And with only the CLI killed, its provider must stop writing by itself.

Size: FLEET_KILL_CERTIFICATES certificates (CI: 80) at a slow pace, killed
once a quarter of them are registered; docs/reliability.md records bigger runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.endpoint import LocalAws
from devtools.pulumi_cli import REPO
from tests.engine.synthetic import Synthetic

pytestmark = pytest.mark.engine

CERTIFICATES = int(os.environ.get("FLEET_KILL_CERTIFICATES", "80"))
WARNINGS = ("pending operation", "interrupted while", "currently locked")


@pytest.fixture
def synthetic(tmp_path: Path) -> Iterator[Synthetic]:
    with LocalAws() as aws:
        yield Synthetic(tmp_path, aws, CERTIFICATES, FLEET_AWS_RATE="4")


def descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every process below ``pid``."""
    children: dict[int, list[int]] = {}
    lines: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            lines[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = lines.get(child, "")
            todo.append(child)
    return found


def start_up(synthetic: Synthetic) -> subprocess.Popen[str]:
    project = synthetic.project
    return subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", project.stack, "--non-interactive"],
        cwd=project.workdir,
        env=project.env(),
        text=True,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def registered(synthetic: Synthetic) -> int:
    return synthetic.aws.writes().get("iot:RegisterCertificate", 0)


def wait_for(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def recover(synthetic: Synthetic, *args: str) -> subprocess.CompletedProcess[str]:
    project = synthetic.project
    return subprocess.run(
        [sys.executable, "-m", "fleet", "recover", "--stack", project.stack, *args],
        cwd=project.workdir,
        env=project.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def kill_tree(pid: int) -> None:
    """As a cancelled CI job ends: every process below the job (plugins run in process groups of
    their own, so not by the CLI's group alone); one that ended meanwhile is no matter."""
    for each in [pid, *descendants(pid)]:
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill(up: subprocess.Popen[str], target: str) -> None:
    if target == "tree":
        kill_tree(up.pid)
        return
    if target == "cli":
        os.kill(up.pid, signal.SIGKILL)
        return
    marker = {"program": "pulumi-language-python-exec", "provider": "-m pulumi.dynamic"}[target]
    victims = [pid for pid, line in descendants(up.pid).items() if marker in line and "python" in line]
    assert len(victims) == 1, descendants(up.pid)
    os.kill(victims[0], signal.SIGKILL)


@pytest.mark.parametrize("target", ["tree", "cli", "program", "provider"])
def test_killed_up_recovers_without_a_person_and_converges_in_one_run(synthetic: Synthetic, target: str) -> None:
    up = start_up(synthetic)
    wait_for(lambda: registered(synthetic) >= CERTIFICATES // 4, 300, "a quarter of the registrations")
    kill(up, target)
    if target != "cli":
        up.wait(timeout=120)
    else:  # the CLI's provider must notice by itself and stop writing
        up.wait(timeout=10)
        time.sleep(5)  # the watchdog's two refused checks
        before = synthetic.aws.writes()
        time.sleep(3)
        assert synthetic.aws.writes() == before, "the provider went on writing after its engine was killed"
    recovered = recover(synthetic, *(["--exclusive"] if target == "tree" else []))  # as the apply workflow runs it
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    if target in ("tree", "cli"):  # the engine died holding the lock: recovery said it removed it
        assert "removing the stale lock" in recovered.stdout, recovered.stdout

    result = synthetic.project.up()
    assert not [w for w in WARNINGS if w in result.output], result.output
    synthetic.assert_converged()
    again = recover(synthetic)
    assert again.returncode == 0 and "nothing to recover" in again.stdout, again.stdout + again.stderr


def test_recover_refuses_while_the_run_is_going_and_changes_nothing(synthetic: Synthetic) -> None:
    up = start_up(synthetic)
    wait_for(lambda: registered(synthetic) >= 4, 300, "the run to start writing")
    refused = recover(synthetic, "--wait", "1")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "may still be going" in refused.stderr and f"(pid {up.pid})" in refused.stderr, refused.stderr
    assert up.wait(timeout=600) == 0  # its lock was left alone: the run finishes
    synthetic.assert_converged()


def test_a_long_run_says_how_far_it_has_got(tmp_path: Path) -> None:
    """Periodic lines in the `pulumi up` output (fleet.progress), as a CI log shows them."""
    with LocalAws() as aws:
        slow = Synthetic(tmp_path, aws, 40, FLEET_AWS_RATE="2", FLEET_PROGRESS_SECONDS="1")
        output = slow.project.up().output
    lines = [line for line in output.splitlines() if "certificates done" in line]
    assert lines and all(
        re.search(r"fleet: certs\.\w+\.[\w-]+\.[0-9a-f]: \d+ of \d+ certificates done", line) for line in lines
    ), output


def test_scripts_pulumi_up_recovers_by_itself_after_a_kill(synthetic: Synthetic) -> None:
    """No person and no extra command: `scripts/pulumi.sh up` runs `fleet recover` first."""
    up = start_up(synthetic)
    wait_for(lambda: registered(synthetic) >= CERTIFICATES // 4, 300, "a quarter of the registrations")
    kill_tree(up.pid)
    up.wait(timeout=60)
    project = synthetic.project
    done = subprocess.run(
        [str(REPO / "scripts" / "pulumi.sh"), "up", "--yes", "--stack", project.stack, "--non-interactive"],
        cwd=project.workdir,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removing the stale lock" in done.stderr and "currently locked" not in done.stdout + done.stderr
    synthetic.assert_converged()
