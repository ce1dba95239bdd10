"""The revocation ledger's memory in git: what it ever held, and what a change removes.

The ledger only grows, and that is enforced twice:
- before a merge, `fleet validate --base REF` compares the ledger at REF with
  this one: a removed or altered entry is refused (``removed_since``);
- after one, fleet treats as revoked every fingerprint that ever appeared as
  a ledger line in the history of the manifests (``fingerprints``), so a
  removal that was merged anyway still reactivates nothing.

Ledger fingerprints are written one per line in a literal block, the line
holding nothing else (fleet.manifest.model checks it); nothing else in the
manifests looks like that, so history is read line by line, without parsing
every past version.

That memory is only as long as the clone's history: a shallow clone (`git
clone --depth 1`, the default of many CI systems) hides an entry removed
before its oldest commit. So before the history is read, a shallow repository
is deepened (`git fetch --unshallow`), and when that fails the history is
refused as incomplete (``HistoryIncomplete``, naming the fix) instead of being
read as if it were whole.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

# A ledger line in a diff: "+        3fa2…" (a line of an entry's block of fingerprints).
LINE = re.compile(rb"^[+-]\s+([0-9a-f]{64})\s*$")
GIT_SECONDS = 120
UNSHALLOW_SECONDS = 600  # the whole history of a long-lived repository, once
# What to do about a shallow clone, in the terms of the CI systems that make one.
DEEPEN = (
    "fetch the whole history and run again: `git fetch --unshallow`, or clone without a depth "
    "(GitHub's actions/checkout: fetch-depth: 0; GitLab: GIT_DEPTH: 0; Jenkins: no shallow clone)"
)


class HistoryUnavailable(Exception):
    """git could not be asked (no repository, a bad ref)."""


class HistoryIncomplete(HistoryUnavailable):
    """A shallow clone that could not be deepened: its history would hide removed ledger entries."""


def work_tree(path: Path) -> Path | None:
    """The git work tree holding ``path`` (resolved, as ``Path.resolve`` gives paths), or None."""
    path = path.resolve()
    done = _git(path if path.is_dir() else path.parent, "rev-parse", "--show-toplevel", check=False)
    return Path(done.decode().strip()).resolve() if done else None


def deepened(top: Path) -> bool:
    """Make the history of the work tree ``top`` whole: a shallow clone is deepened from its
    remote (True: it was); HistoryIncomplete when it cannot be."""
    if _git(top, "rev-parse", "--is-shallow-repository", check=False).strip() != b"true":
        return False
    try:
        # Never a prompt for credentials: CI has no one to answer it, and a run must not hang.
        _git(
            top,
            "fetch",
            "--unshallow",
            "--quiet",
            seconds=UNSHALLOW_SECONDS,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except HistoryUnavailable as error:
        raise HistoryIncomplete(
            f"{top} is a shallow clone, so its history would hide a ledger entry removed "
            f"before its oldest commit, and deepening it failed ({error}); {DEEPEN}"
        ) from None
    if _git(top, "rev-parse", "--is-shallow-repository", check=False).strip() == b"true":
        raise HistoryIncomplete(f"{top} is still a shallow clone after `git fetch --unshallow`; {DEEPEN}")
    return True


def fingerprints(manifests: Path, note: Callable[[str], None] = lambda _: None) -> frozenset[str] | None:
    """Every fingerprint that was ever a ledger line under ``manifests`` in the
    history of HEAD, or in the changes not committed yet; None outside a git
    work tree. A shallow clone is deepened first (``note`` says so) or refused."""
    top = work_tree(manifests)
    if top is None:
        return None
    if deepened(top):
        note(
            f"{top} was a shallow clone: fetched its whole history (git fetch --unshallow) for the revocation "
            "ledger's history"
        )
    where = str(manifests.resolve().relative_to(top))
    found: set[str] = set()
    has_head = bool(_git(top, "rev-parse", "--verify", "--quiet", "HEAD", check=False))
    commands = [["diff", "--no-color", "--no-ext-diff", "HEAD" if has_head else "--cached", "--", where]]
    if has_head:
        commands.append(["log", "-p", "--no-color", "--no-ext-diff", "--format=", "HEAD", "--", where])
    for command in commands:
        for line in _lines(top, command):
            match = LINE.match(line)
            if match:
                found.add(match[1].decode())
    return frozenset(found)


@dataclass(frozen=True, order=True)
class Record:
    """One certificate revoked in one account and region, as a ledger entry says."""

    fingerprint: str
    place: str  # ACCOUNT_ID/REGION
    date: str
    reason: str
    source: str  # "path:line" of its entry


def records(ledgers: Iterator[tuple[str, object]]) -> dict[tuple[str, str], Record]:
    """(fingerprint, place) -> its record, from (path, parsed YAML) pairs."""
    found: dict[tuple[str, str], Record] = {}
    for path, data in ledgers:
        section = data.get("revocations") if isinstance(data, dict) else None
        entries = section.get("entries") if isinstance(section, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            line = entry.lc.line + 1 if hasattr(entry, "lc") else 0
            for fp in str(entry.get("certificates") or "").split():
                for place in entry.get("places") or []:
                    found.setdefault(
                        (str(fp), str(place)),
                        Record(str(fp), str(place), str(entry.get("date")), str(entry.get("reason")), f"{path}:{line}"),
                    )
    return found


def removed_since(base: str, manifests: Path) -> list[str]:
    """What this work tree's ledger no longer holds, or holds altered, of the
    ledger at ``base``: one sentence each (empty: it only grew)."""
    manifests = manifests.resolve()  # git's paths are the work tree's, wherever fleet runs
    top = work_tree(manifests)
    if top is None:
        raise HistoryUnavailable(f"{manifests} is not in a git work tree: no ledger to compare with {base}")
    where = str(manifests.relative_to(top))
    if not _git(top, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False):
        raise HistoryUnavailable(f"no commit {base!r} in this repository (fetch it first)")
    names = _git(top, "ls-tree", "-r", "--name-only", base, "--", where).decode().splitlines()
    before = records((name, _load(_git(top, "show", f"{base}:{name}"))) for name in names if _is_yaml(name))
    now_files = [p for p in sorted(manifests.rglob("*")) if _is_yaml(p.name) and p.is_file()]
    now = records((str(p.relative_to(top)), _load(p.read_bytes())) for p in now_files)
    sentences = []
    for key, was in sorted(before.items()):
        still = now.get(key)
        if still is None:
            sentences.append(
                f"{was.fingerprint} revoked in {was.place} on {was.date} ({was.reason}; {was.source} "
                f"at {base}) is no longer in the ledger"
            )
        elif (still.date, still.reason) != (was.date, was.reason):
            sentences.append(
                f"{was.fingerprint} revoked in {was.place} on {was.date} ({was.reason}) now reads "
                f"{still.date} ({still.reason}) at {still.source}"
            )
    return sentences


def _is_yaml(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def _load(data: bytes) -> object:
    try:
        return YAML(typ="rt").load(data)
    except (YAMLError, UnicodeDecodeError, ValueError):
        return None  # a file that does not parse holds no ledger this can compare


def _git(
    cwd: Path, *args: str, check: bool = True, seconds: int = GIT_SECONDS, env: dict[str, str] | None = None
) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=seconds,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HistoryUnavailable(f"git {args[0]} failed: {error}") from error
    if done.returncode != 0:
        if check:
            raise HistoryUnavailable(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
        return b""
    return done.stdout


def _lines(cwd: Path, args: list[str]) -> Iterator[bytes]:
    """git's output line by line, never all held at once (a long history)."""
    try:
        process = subprocess.Popen(["git", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as error:
        raise HistoryUnavailable(f"git {args[0]} failed: {error}") from error
    assert process.stdout is not None
    with process:
        yield from process.stdout
    if process.returncode not in (0, None):
        raise HistoryUnavailable(f"git {' '.join(args)} exited {process.returncode}")
