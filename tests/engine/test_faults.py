"""`pulumi up` through an AWS that fails: throttling, 5xx, connections reset before
and after the request is served, and an outage. Each run must exit 0 only with
AWS equal to the manifests (each certificate once, its status, its policy), with
nothing duplicated or lost, converged in that one run.

The faults come from the local endpoint (localaws.faults). Size:
FLEET_FAULT_CERTIFICATES certificates (CI: 48) and an outage of
FLEET_FAULT_OUTAGE_SECONDS (CI: 15); docs/reliability.md records bigger runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.endpoint import LocalAws
from devtools.pulumi_cli import ENGINE, provider_failure
from tests.engine.synthetic import Synthetic

pytestmark = pytest.mark.engine

CERTIFICATES = int(os.environ.get("FLEET_FAULT_CERTIFICATES", "48"))
OUTAGE_SECONDS = float(os.environ.get("FLEET_FAULT_OUTAGE_SECONDS", "15"))

FAULTS: dict[str, list[dict[str, Any]]] = {
    "none": [],  # the baseline: docs/reliability.md measures each fault's overhead against it
    # every third write throttled, STS included
    "throttle": [{"kind": "throttle", "service": "*", "every": 3}],
    # every fourth call of any kind answered 503
    "5xx": [{"kind": "error", "service": "*", "requests": "all", "every": 4}],
    # every fifth write dropped before AWS sees it
    "reset before served": [{"kind": "reset-before", "every": 5}],
    # every third write applied, its answer lost: the retry meets "already exists" / "conflict"
    "reset after served": [{"kind": "reset-after", "every": 3}],
    # one of each write that fleet settles by reading, answer lost the first time
    "lost answers of each write": [
        {"kind": "reset-after", "path": path, "times": 1}
        for path in (
            "^/certificate/register",
            "^/cacertificate$",
            "^/policies/[^/]+$",
            "^/policies/[^/]+/version",
            "^/target-policies/",
            "^/certificates/",
        )
    ],
    # everything fails for a while, a few writes into the run
    "outage": [{"kind": "outage", "service": "*", "requests": "all", "after": 20, "seconds": OUTAGE_SECONDS}],
}


@pytest.fixture
def synthetic(tmp_path: Path) -> Iterator[Synthetic]:
    with LocalAws() as aws:
        yield Synthetic(tmp_path, aws, CERTIFICATES, FLEET_AWS_RATE="50")


@pytest.mark.parametrize("fault", list(FAULTS))
def test_up_through_a_fault_converges_in_one_run_and_exits_0_only_when_aws_is_right(
    synthetic: Synthetic, fault: str
) -> None:
    fired = [0] * len(FAULTS[fault])
    for revision in ("first apply", "a change"):
        if revision == "a change":
            synthetic.change()
        synthetic.aws.arm_faults(*FAULTS[fault])
        synthetic.project.up()
        fired = [a + b for a, b in zip(fired, synthetic.aws.faults_by_rule(), strict=True)]
        synthetic.aws.clear_faults()
        synthetic.assert_converged()
    never = [FAULTS[fault][i] for i, n in enumerate(fired) if not n]
    assert not never, f"{fault}: rules that never fired: {never}"


def test_an_outage_longer_than_the_budget_fails_naming_the_call_then_the_next_run_converges(tmp_path: Path) -> None:
    with LocalAws() as aws:
        synthetic = Synthetic(tmp_path, aws, 16, FLEET_AWS_RATE="50", FLEET_AWS_RETRY_SECONDS="4")
        aws.arm_faults({"kind": "outage", "requests": "writes", "path": "^/certificate/register", "seconds": 600})
        failed = synthetic.project.up(ok=(ENGINE.failed,))
        aws.clear_faults()
        # Only the write could find the outage: a failure, as the SDK prints one (a traceback from 3.260).
        line = provider_failure(failed.output, "retried for up to FLEET_AWS_RETRY_SECONDS")
        assert re.search(r"to RegisterCertificate|reached \(RegisterCertificate\)", line), failed.output
        # It names the place: whichever account's write gave up first (both meet the outage).
        assert re.search(r"in account (prod \(111111111111\)|staging \(222222222222\)), [a-z]+-[a-z]+-\d", line), line
        assert "KeyboardInterrupt" not in failed.output, failed.output
        synthetic.project.up()
        synthetic.assert_converged()
