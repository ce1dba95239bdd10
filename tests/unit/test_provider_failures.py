"""How providers say no, on every SDK of the range: refusals as check failures,
failures as exceptions carrying fleet's sentence; nothing reaches into
Pulumi's gRPC server or walks stack frames to find it (issue 20: SDK 3.272
wraps every provider method and turned such an abort into a bare traceback)."""

from __future__ import annotations

import ast
import traceback
from pathlib import Path
from typing import Any

import pytest

from fleet.aws.errors import Throttled
from fleet.providers import failures
from fleet.providers.failures import ProviderFailure, checked, reported

FLEET = Path(failures.__file__).resolve().parents[1]
# What finding the gRPC call's context took: the frames of the callers, and their locals.
FRAME_WALKING = {"_getframe", "currentframe", "f_back", "f_locals", "stack", "getouterframes"}


def reaching_into_pulumi(source: str) -> list[str]:
    """Where ``source`` walks stack frames or imports grpc, by line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in FRAME_WALKING
            and (node.attr != "stack" or isinstance(node.value, ast.Name) and node.value.id == "inspect")
        ):
            found.append(f"{node.lineno}: .{node.attr}")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{node.lineno}: import {n}" for n in names if n and n.split(".")[0] == "grpc"]
    return found


def test_no_module_of_fleet_walks_stack_frames_or_imports_grpc() -> None:
    found = {
        str(path.relative_to(FLEET)): reaching_into_pulumi(path.read_text(encoding="utf-8"))
        for path in sorted(FLEET.rglob("*.py"))
    }
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_probe_sees_the_way_fleet_found_the_grpc_context_before() -> None:
    before = (  # fleet/providers/failures.py until issue 20
        "import sys\nimport grpc\n\n"
        "def _servicer_context():\n"
        "    frame = sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        candidate = frame.f_locals.get('context')\n"
        "        if isinstance(candidate, grpc.ServicerContext):\n"
        "            return candidate\n"
        "        frame = frame.f_back\n"
    )
    assert sorted(reaching_into_pulumi(before)) == ["10: .f_back", "2: import grpc", "5: ._getframe", "7: .f_locals"]


class Provider:
    @reported
    def create(self, kind: str) -> str:
        if kind == "refused":
            failures.fail("CA root in account prod (111111111111), us-east-1: AWS does not hold what was written")
        if kind == "throttled":
            raise Throttled("registering CA root: AWS said ThrottlingException to RegisterCACertificate: slow down")
        if kind == "bug":
            raise KeyError("status")
        return "created"

    @checked
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        if news.get("broken"):
            raise ValueError("no such group")
        return [f"refused {key}" for key in sorted(news) if olds.get(key) == "REVOKED"]


def test_a_failure_is_raised_as_fleets_sentence_and_reads_well_as_a_tracebacks_last_line() -> None:
    with pytest.raises(ProviderFailure) as caught:
        Provider().create("refused")
    last = traceback.format_exception_only(caught.value)[-1].rstrip("\n")
    # SDKs from 3.260 show the provider's traceback; this is its last line.
    assert (
        last == "fleet.ProviderFailure: CA root in account prod (111111111111), us-east-1: AWS does not hold "
        "what was written"
    )
    assert Provider().create("fine") == "created"


def test_an_aws_error_and_an_unexpected_one_become_fleets_failure_with_nothing_chained() -> None:
    with pytest.raises(ProviderFailure) as caught:
        Provider().create("throttled")
    assert str(caught.value) == "registering CA root: AWS said ThrottlingException to RegisterCACertificate: slow down"
    assert caught.value.__suppress_context__  # the traceback shows fleet's failure, not the translation too
    with pytest.raises(ProviderFailure) as caught:
        Provider().create("bug")
    assert str(caught.value) == "fleet: unexpected KeyError in Provider.create: 'status'"


def test_a_check_returns_its_refusals_and_what_it_raises_as_check_failures() -> None:
    result = Provider().check({"a": "REVOKED", "b": "ACTIVE"}, {"a": "ACTIVE", "b": "ACTIVE"})
    assert result.inputs == {"a": "ACTIVE", "b": "ACTIVE"}
    # An empty property: the engine says "<type> resource '<name>' has a problem: <reason>".
    assert [(f.property, f.reason) for f in result.failures] == [("", "refused a")]
    assert Provider().check({}, {"a": "ACTIVE"}).failures == []
    broken = Provider().check({}, {"broken": True})
    assert [f.reason for f in broken.failures] == ["fleet: unexpected ValueError in Provider.check: no such group"]
