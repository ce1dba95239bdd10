"""Fuzzing: the example manifests, mutated in their structure and in their bytes,
are either accepted or refused cleanly: every problem a positioned Problem in a
file that exists, never another exception, never a hang (a time bound per load),
and from the command line exit 0 or 1 without a traceback.

Size: FLEET_FUZZ_EXAMPLES mutations (CI: 60); docs/reliability.md records a
bigger run.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from fleet.manifest import ManifestError, load_fleet

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FLEET_FUZZ_EXAMPLES", "60"))
SECONDS = 10.0  # a load of the example fleet takes well under a second
REGIONS = frozenset({"us-east-1", "eu-west-1", "eu-central-1"})
FILES = sorted(p.name for p in (REPO / "manifests").glob("*.yaml"))

VALUES: list[Any] = [
    None,
    0,
    -1,
    2**70,
    1.5e308,
    True,
    "",
    "x" * 5000,
    "../../../etc/passwd",
    "/etc/passwd",
    "*",
    "REVOKED",
    "ACTIVE",
    "\u202e\u0000",
    [],
    {},
    [[[[[[[[[[[]]]]]]]]]]],
    {"a": {"b": {"c": 1}}},
    "2099-01-01",
    "env:",
    {"env": "NOT_SET_ANYWHERE"},
    {"file": "/dev/zero"},
    ["us-east-1"] * 50,
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _structural(text: str, data: st.DataObject) -> bytes:
    yaml = YAML()
    document = yaml.load(text)
    paths = _paths(document)
    if not paths:
        return text.encode()
    path = data.draw(st.sampled_from(paths), label="path")
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    operation = data.draw(st.sampled_from(["delete", "replace", "duplicate", "alias", "merge"]), label="op")
    key = path[-1]
    if operation == "delete":
        del parent[key]
    elif operation == "replace":
        parent[key] = data.draw(st.sampled_from(VALUES), label="value")
    elif operation == "duplicate" and isinstance(parent, list):
        parent.append(parent[key])
    elif operation == "duplicate" and isinstance(parent, dict):
        parent[f"{key}-copy"] = parent[key]
    else:
        out = io.StringIO()
        yaml.dump(document, out)
        lines = out.getvalue().splitlines(keepends=True)
        line = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
        indent = len(lines[line]) - len(lines[line].lstrip()) if lines else 0
        extra = "<<: *nowhere\n" if operation == "merge" else "bomb: &a [*a]\n"
        lines.insert(line, " " * indent + extra)
        return "".join(lines).encode()
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue().encode()


def _bytes(raw: bytes, data: st.DataObject) -> bytes:
    for _ in range(data.draw(st.integers(1, 5), label="edits")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        edit = data.draw(st.sampled_from(["flip", "insert", "delete", "nul", "invalid-utf8", "truncate"]))
        if edit == "flip" and at < len(raw):
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
        elif edit == "insert":
            raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
        elif edit == "delete":
            raw = raw[:at] + raw[at + 8 :]
        elif edit == "nul":
            raw = raw[:at] + b"\x00" + raw[at:]
        elif edit == "invalid-utf8":
            raw = raw[:at] + b"\xff\xfe" + raw[at:]
        else:
            raw = raw[:at]
    return raw


def _load_within_bound(root: Path) -> BaseException | None:
    """Loads the manifests in a thread; the outcome, or an AssertionError when it did not end in time."""
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_fleet(root / "manifests", known_regions=REGIONS, repository=root, display_root=root)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (judged below: only ManifestError is clean)
            outcome.append(error)

    worker = threading.Thread(target=load, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(SECONDS)
    assert outcome, f"loading did not end within {SECONDS} s (still running after {time.monotonic() - started:.0f} s)"
    return outcome[0]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_manifests_are_accepted_or_refused_cleanly(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory(prefix="fleet-fuzz-") as scratch:
        root = Path(scratch)
        shutil.copytree(REPO / "manifests", root / "manifests")
        shutil.copytree(REPO / "policies", root / "policies")
        name = data.draw(st.sampled_from(FILES), label="file")
        target = root / "manifests" / name
        kind = data.draw(st.sampled_from(["structure", "bytes"]), label="kind")
        mutated = _structural(target.read_text(), data) if kind == "structure" else _bytes(target.read_bytes(), data)
        target.write_bytes(mutated)
        error = _load_within_bound(root)
        if error is None:
            return
        assert isinstance(error, ManifestError), f"{type(error).__name__}: {error}"
        for problem in error.problems:
            assert problem.line >= 1 and problem.column >= 1, problem
            assert (root / problem.file).exists() or Path(problem.file).exists(), problem
        assert str(error).startswith(f"{len(error.problems)} problem")


@settings(
    max_examples=max(3, EXAMPLES // 20),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_fleet_validate_never_prints_a_traceback(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory(prefix="fleet-fuzz-") as scratch:
        root = Path(scratch)
        shutil.copytree(REPO / "manifests", root / "manifests")
        shutil.copytree(REPO / "policies", root / "policies")
        target = root / "manifests" / data.draw(st.sampled_from(FILES), label="file")
        target.write_bytes(_bytes(target.read_bytes(), data))
        done = subprocess.run(
            [sys.executable, "-m", "fleet", "validate", "-m", "manifests"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
