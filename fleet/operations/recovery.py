"""Recover a stack after an interrupted apply, without a person.

A `pulumi up` killed in CI leaves two things behind: the stack's lock (the
next run is refused, "the stack is currently locked") and, in the state, the
operations it had begun ("interrupted while creating"), which Pulumi warns
about on every later run. Both are safe to clear once nothing still works on
the stack: every fleet create and update converges from what AWS holds
(adopting what exists), so an operation begun and never recorded is simply
done again, settled by reading AWS.

"Nothing still works on the stack" is established, not assumed:

- a lock taken on this machine is stale only when its `pulumi` process is gone;
- a lock taken on another machine is stale only when the caller says this job
  is the only one that can run the stack (``exclusive``: the workflows'
  concurrency group guarantees it), or when it is older than ``stale_after``;
- fleet's own processes left on this machine for the stack (a program or a
  provider whose engine was killed) must have exited; a provider's watchdog
  ends it within seconds (fleet.watchdog), and recovery waits for that.

Reads the locks of file:// and s3:// backends (Pulumi's DIY backends; S3 through
fleet.aws.state_backend); removes
them with `pulumi cancel`, and clears the pending operations with `pulumi stack
export` and `pulumi stack import`, all through the Pulumi CLI.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

PULUMI_SECONDS = 300
LOCKS = ".pulumi/locks"
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class RecoveryRefused(Exception):
    """Something may still be working on the stack: nothing was cleared."""


@dataclass(frozen=True)
class Lock:
    where: str
    pid: int
    hostname: str
    username: str
    taken: datetime | None

    def describe(self) -> str:
        taken = self.taken.isoformat(timespec="seconds") if self.taken else "an unknown time"
        return f"{self.username}@{self.hostname} (pid {self.pid}) at {taken}"


@dataclass
class Recovered:
    locks_removed: list[Lock]
    pending_cleared: list[str]  # "creating <urn>"

    @property
    def anything(self) -> bool:
        return bool(self.locks_removed or self.pending_cleared)


class Pulumi:
    """The Pulumi CLI in a project directory."""

    def __init__(self, project_dir: Path, stack: str, environ: Mapping[str, str] | None = None):
        self.project_dir = project_dir
        self.stack = stack
        self.environ = dict(environ if environ is not None else os.environ)

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project_dir,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=PULUMI_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RecoveryRefused(f"`pulumi {' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def backend_url(self) -> str:
        return str(json.loads(self.run("whoami", "--json"))["url"])

    def project_name(self) -> str:
        for line in (self.project_dir / "Pulumi.yaml").read_text().splitlines():
            if line.startswith("name:"):
                return line.split(":", 1)[1].strip().strip("'\"")
        raise RecoveryRefused(f"{self.project_dir / 'Pulumi.yaml'} names no project")


# --- the locks ---------------------------------------------------------------------------


def _is_stack_lock(key: str, project: str, stack: str) -> bool:
    """Project-scoped stacks lock under locks/<org>/<project>/<stack>/, older ones under locks/<stack>/."""
    folder = key.rsplit("/", 1)[0]
    return folder.endswith(f"/{project}/{stack}") or folder.endswith(f"{LOCKS}/{stack}")


def _lock(where: str, content: bytes) -> Lock:
    try:
        raw: dict[str, Any] = json.loads(content)
        # Go writes RFC 3339 with nanoseconds; Python reads at most microseconds.
        stamp = _TIMESTAMP.match(str(raw.get("timestamp", "")))
        taken = (
            datetime.fromisoformat(f"{stamp[1]}{(stamp[2] or '')[:7]}{stamp[3].replace('Z', '+00:00')}")
            if stamp
            else None
        )
    except (ValueError, TypeError, AttributeError):
        raise RecoveryRefused(
            f"cannot read the lock {where}; inspect it, then remove it with `pulumi cancel`"
        ) from None
    return Lock(where, int(raw.get("pid", 0)), str(raw.get("hostname", "")), str(raw.get("username", "")), taken)


def read_locks(
    url: str, project: str, stack: str, s3_client: Callable[[dict[str, str]], Any] | None = None
) -> list[Lock]:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        root = Path(unquote(parsed.path)) / LOCKS
        return [
            _lock(str(path), path.read_bytes())
            for path in sorted(root.rglob("*.json"))
            if _is_stack_lock(path.relative_to(root.parent.parent).as_posix(), project, stack)
        ]
    if parsed.scheme == "s3":
        from fleet.aws.state_backend import StateBucket  # boto3 only for an S3 backend

        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        bucket = StateBucket(parsed.netloc, options, s3_client(options) if s3_client else None)
        prefix = "/".join(p for p in (parsed.path.strip("/"), LOCKS) if p) + "/"
        return [
            _lock(f"s3://{parsed.netloc}/{key}", bucket.read(key))
            for key in bucket.keys(prefix)
            if key.endswith(".json") and _is_stack_lock(key, project, stack)
        ]
    raise RecoveryRefused(
        f"fleet reads the locks of file:// and s3:// backends, not {parsed.scheme}://; "
        "with this backend, check that no run is in progress and run `pulumi cancel`"
    )


def alive_here(pid: int, name: str) -> bool:
    """Whether a process of this machine with that pid is running a program called ``name``."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except OSError:
        if not Path("/proc").is_dir():  # not Linux: the pid alone
            try:
                os.kill(pid, 0)
                return True
            except OSError:
                return False
        return False


def stale(
    lock: Lock,
    *,
    exclusive: bool,
    stale_after: float,
    now: datetime,
    hostname: str,
    alive: Callable[[int, str], bool] = alive_here,
) -> str | None:
    """Why the lock is stale, or None when its holder may still be running."""
    if lock.hostname == hostname:
        return None if alive(lock.pid, "pulumi") else f"its process {lock.pid} is gone"
    if exclusive:
        return "this job is the only one that runs the stack"
    if lock.taken is not None and (now - lock.taken).total_seconds() > stale_after:
        return f"it is older than {stale_after:.0f} s"
    return None


# --- fleet's own processes left on this machine --------------------------------------------


def leftover_processes(project_dir: Path, stack: str) -> list[int]:
    """The program or provider processes of this project and stack still running on this machine."""
    found = []
    project = str(project_dir.resolve())
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        text = [a.decode(errors="replace") for a in arguments]
        program = (
            any(a.endswith("pulumi-language-python-exec") for a in text)
            and "--stack" in text
            and text[text.index("--stack") + 1] == stack
            and cwd == project
        )
        provider = "pulumi.dynamic" in text and cwd == project
        if (program or provider) and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return sorted(found)


# --- recovery ----------------------------------------------------------------------------


def recover(
    pulumi: Pulumi,
    *,
    exclusive: bool = False,
    stale_after: float = 6 * 3600,
    wait: float = 20.0,
    say: Callable[[str], None] = print,
) -> Recovered:
    """Clear a stale lock and the pending operations of ``pulumi.stack``; refuse while anything may hold it."""
    locks = read_locks(pulumi.backend_url(), pulumi.project_name(), pulumi.stack)
    now, hostname = datetime.now(UTC), socket.gethostname()
    held = [
        lock
        for lock in locks
        if stale(lock, exclusive=exclusive, stale_after=stale_after, now=now, hostname=hostname) is None
    ]
    if held:
        raise RecoveryRefused(
            f"stack {pulumi.stack} is locked by a run that may still be going: "
            + "; ".join(lock.describe() for lock in held)
            + ". Wait for it; if it is gone for certain, run this again with --exclusive"
        )
    deadline = time.monotonic() + wait
    while (left := leftover_processes(pulumi.project_dir, pulumi.stack)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if left:
        raise RecoveryRefused(
            f"fleet processes of stack {pulumi.stack} are still running here (pids "
            f"{', '.join(map(str, left))}); wait for them to end, or end them, and run this again"
        )
    for lock in locks:
        say(
            f"removing the stale lock of {lock.describe()}: "
            f"{stale(lock, exclusive=exclusive, stale_after=stale_after, now=now, hostname=hostname)}"
        )
    if locks:
        pulumi.run("cancel", "--yes", "--stack", pulumi.stack)
    cleared = _clear_pending(pulumi)
    for operation in cleared:
        say(f"clearing the interrupted operation {operation} (the next run settles it by reading AWS)")
    return Recovered(locks, cleared)


def _clear_pending(pulumi: Pulumi) -> list[str]:
    exported = json.loads(pulumi.run("stack", "export", "--stack", pulumi.stack))
    deployment = exported.get("deployment") or {}
    pending = deployment.get("pending_operations") or []
    if not pending:
        return []
    deployment["pending_operations"] = []
    with tempfile.TemporaryDirectory(prefix="fleet-recover-") as scratch:
        path = Path(scratch) / "state.json"
        path.write_text(json.dumps(exported))
        path.chmod(0o600)
        pulumi.run("stack", "import", "--stack", pulumi.stack, "--file", str(path))
    return [f"{p.get('type', '?')} {p.get('resource', {}).get('urn', '?')}" for p in pending]
