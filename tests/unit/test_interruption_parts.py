"""The parts that let an interrupted or faulted apply recover: the retry budget
(fleet.aws.retry), the engine watchdog (fleet.watchdog) and how recovery reads
locks (fleet.operations.recovery). The engine tests (test_faults, test_interruptions) run
them for real."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fleet import watchdog
from fleet.aws.retry import GAVE_UP, OutageRetry
from fleet.operations import recovery


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def needs_retry(
    context: dict[str, Any], attempt: int, code: str | None = "ThrottlingException", status: int = 400
) -> dict[str, Any]:
    """The keyword arguments botocore passes a needs-retry handler."""
    response = (
        None
        if code is None
        else (
            SimpleNamespace(status_code=status, headers={}, content=b""),
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        )
    )
    return {
        "attempts": attempt,
        "response": response,
        "caught_exception": None if code else ConnectionResetError(),
        "operation": SimpleNamespace(name="RegisterCertificate", error_shapes=[]),
        "request_dict": {"context": context},
    }


def test_retries_wait_out_an_outage_until_the_budget_is_spent() -> None:
    clock = Clock()
    retry = OutageRetry(budget=120, max_backoff=20, clock=clock, jitter=lambda: 1.0)
    context: dict[str, Any] = {}
    delays = []
    for attempt in range(1, 100):
        delay = retry(**needs_retry(context, attempt))
        if delay is None:
            break
        delays.append(delay)
        clock.now += delay
    assert delays[:5] == [0.25, 0.5, 1.0, 2.0, 4.0] and max(delays) == 20  # capped exponential backoff
    assert 100 < sum(delays) <= 120  # a 2-minute budget is used, never exceeded
    assert context[GAVE_UP] == round(sum(delays))  # and the call says how long it tried


def test_errors_that_no_wait_can_fix_are_not_retried() -> None:
    retry = OutageRetry(budget=120, clock=Clock(), jitter=lambda: 0.0)
    assert retry(**needs_retry({}, 1, code="InvalidRequestException")) is None
    assert retry(**needs_retry({}, 1, code="ServiceUnavailableException", status=503)) is not None


def test_the_engine_address_is_read_as_the_provider_and_the_program_get_it() -> None:
    assert watchdog.engine_address(["-u", "-m", "pulumi.dynamic", "127.0.0.1:4567"]) == ("127.0.0.1", 4567)
    program = ["exec", "--monitor", "127.0.0.1:1", "--engine", "127.0.0.1:2", "--stack", "s", "."]
    assert watchdog.engine_address(program) == ("127.0.0.1", 2)
    assert watchdog.engine_address(["fleet", "drift"]) is None


def test_the_watchdog_ends_the_process_after_two_refusals_in_a_row() -> None:
    answers = iter([True, False, True, False, False, True])
    gone: list[bool] = []
    watchdog.watch(("127.0.0.1", 1), lambda: gone.append(True), interval=0, reachable=lambda _: next(answers))
    assert gone == [True]
    assert next(answers) is True  # it stopped asking at the second refusal in a row


def test_an_engine_that_listens_is_reachable_and_a_closed_port_is_not() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        address = listening.getsockname()
        assert watchdog.engine_reachable(address)
    assert not watchdog.engine_reachable(address)


def write_lock(backend: Path, stack: str, pid: int, hostname: str, stamp: str) -> None:
    folder = backend / ".pulumi" / "locks" / "organization" / "fleet" / stack
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{pid}.json").write_text(
        json.dumps({"pid": pid, "username": "ci", "hostname": hostname, "timestamp": stamp})
    )


def test_locks_are_read_for_the_stack_only(tmp_path: Path) -> None:
    write_lock(tmp_path, "prod", 11, "runner-1", "2026-11-24T01:37:19.758644303Z")
    write_lock(tmp_path, "staging", 12, "runner-2", "2026-11-24T01:37:19Z")
    locks = recovery.read_locks(tmp_path.as_uri(), "fleet", "prod")
    assert [(lock.pid, lock.hostname) for lock in locks] == [(11, "runner-1")]
    assert locks[0].taken == datetime(2026, 11, 24, 1, 37, 19, 758644, tzinfo=UTC)


def test_a_lock_is_stale_only_when_its_holder_is_known_to_be_gone() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    def lock(pid: int, host: str, age: float) -> recovery.Lock:
        return recovery.Lock("x", pid, host, "ci", now - timedelta(seconds=age))

    running = {42}  # the pulumi processes of this machine

    def stale(held: recovery.Lock, exclusive: bool = False) -> str | None:
        return recovery.stale(
            held,
            exclusive=exclusive,
            stale_after=3600,
            now=now,
            hostname="here",
            alive=lambda pid, _name: pid in running,
        )

    assert stale(lock(42, "here", 10**6)) is None  # however old: its process runs
    assert stale(lock(43, "here", 5)) == "its process 43 is gone"
    assert stale(lock(42, "here", 5), exclusive=True) is None  # --exclusive never overrides what is seen here
    assert stale(lock(5, "elsewhere", 60)) is None  # another machine, recent: may still be running
    assert stale(lock(5, "elsewhere", 60), exclusive=True) == "this job is the only one that runs the stack"
    assert stale(lock(5, "elsewhere", 7200)) == "it is older than 3600 s"


def test_a_process_counts_as_the_lock_holder_only_under_the_holder_s_name() -> None:
    me = Path("/proc/self/comm").read_text().strip()
    assert recovery.alive_here(os.getpid(), me)
    assert not recovery.alive_here(os.getpid(), "pulumi")  # a pid reused by another program: the holder is gone
    assert not recovery.alive_here(2**22 + 7, me)  # above Linux's pid_max default: no such process


def test_an_unknown_backend_is_refused_with_what_to_do() -> None:
    with pytest.raises(recovery.RecoveryRefused, match="pulumi cancel"):
        recovery.read_locks("gs://bucket", "fleet", "prod")


def test_progress_is_a_line_per_interval_and_nothing_for_short_runs() -> None:
    from fleet.progress import Progress

    clock, lines = Clock(), []
    progress = Progress("certs.prod.us-east-1.3", 1000, every=30, clock=clock, write=lines.append)
    for _ in range(1000):
        progress.step()
        clock.now += 0.125  # 125 s in all: a line at 30, 60, 90 and 120 s
    assert lines == [f"fleet: certs.prod.us-east-1.3: {n:,} of 1,000 certificates done\n" for n in (241, 481, 721, 961)]
    short = Progress("x", 199, every=30, clock=clock, write=lines.append)
    short.step(199)  # done within the interval
    assert len(lines) == 4
