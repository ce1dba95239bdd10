"""`fleet review` renders a plan as the same Markdown every time (golden file).

The fixture is a real `pulumi preview --json` (trimmed of PEMs and local
paths) of the engine test that checks the review of a real plan; regenerate
both with: FLEET_WRITE_REVIEW_FIXTURES=1 ./scripts/test.sh -k real_plan
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.review import PlanError, render

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
