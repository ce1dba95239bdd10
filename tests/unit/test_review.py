"""`fleet review` renders a plan as the same Markdown every time (golden file).

The fixture is a real `pulumi preview --json` (trimmed of PEMs and local
paths) of the engine test that checks the review of a real plan; regenerate
both with: FLEET_WRITE_REVIEW_FIXTURES=1 ./scripts/test.sh -k real_plan
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleet.review import LIST_AT_MOST, PlanError, render

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "review"


def test_the_review_matches_the_golden_file() -> None:
    assert render((FIXTURES / "plan.json").read_text()) == (FIXTURES / "review.md").read_text()


def test_the_review_does_not_depend_on_the_order_of_steps() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    plan["steps"].reverse()
    assert render(json.dumps(plan)) == (FIXTURES / "review.md").read_text()


def test_a_plan_without_changes_says_so() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    plan["steps"] = [{**step, "op": "same"} for step in plan["steps"]]
    assert "No changes to AWS." in render(json.dumps(plan))


@pytest.mark.parametrize("text", ["", "{}", "[1, 2]", "not json"])
def test_a_file_that_is_not_a_plan_is_refused(text: str) -> None:
    with pytest.raises(PlanError, match="not the output of `pulumi preview --json`"):
        render(text)


def steps_of(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in plan["steps"] if f"fleet:{kind}::" in s["urn"]]


def test_the_blast_radius_is_what_aws_counted_when_the_plan_has_it() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    for step in steps_of(plan, "CaPlacement"):
        step["newState"]["inputs"]["active_certificates"] = 1234
    assert render(json.dumps(plan)).count("**1234 ACTIVE certificates** it signed keep working") == 2


def test_a_replacement_is_called_out_first() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [ca] = [s for s in steps_of(plan, "CaPlacement") if s["urn"].endswith("root.prod.eu-west-1")]
    ca["op"] = "replace"
    ca["newState"]["inputs"]["mode"] = "SNI_ONLY"
    review = render(json.dumps(plan))
    assert "> **Replaced (deleted, then made again):**\n> - CA `root` in prod/eu-west-1 is deleted and made again " \
           "(mode changed)" in review.split("| account |")[0]


def test_a_long_list_is_folded_and_capped() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [group] = [s for s in steps_of(plan, "DeviceCertificates") if s["op"] == "create"]
    group["newState"]["inputs"]["certificates"] = {
        f"{n:064x}": {"file": f"sensor-{n}.pem", "status": "ACTIVE"} for n in range(LIST_AT_MOST + 50)}
    review = render(json.dumps(plan))
    assert f"  <details><summary>{LIST_AT_MOST + 1} items</summary>" in review
    assert "  - and 50 more\n" in review
    assert len(review) < 20_000
