"""`fleet review` renders a plan as the same Markdown every time (golden file).

The fixture is a real `pulumi preview --json` (trimmed of PEMs and local
paths) of the engine test that checks the review of a real plan; regenerate
both with: FLEET_WRITE_REVIEW_FIXTURES=1 ./scripts/test.sh -k real_plan
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fleet.model.declarations import Entry
from fleet.reports.review import LIST_AT_MOST, NOT_READ, PlanError, created_cas, deactivated_cas, readings, render

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "review"


def labels() -> dict[str, str]:
    return dict(json.loads((FIXTURES / "labels.json").read_text()))


def test_the_review_matches_the_golden_file() -> None:
    assert render((FIXTURES / "plan.json").read_text(), labels=labels()) == (FIXTURES / "review.md").read_text()


def test_the_review_does_not_depend_on_the_order_of_steps() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    plan["steps"].reverse()
    assert render(json.dumps(plan), labels=labels()) == (FIXTURES / "review.md").read_text()


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


def test_the_blast_radius_starts_from_what_aws_counts_now() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [(ca_id, account_id, _, _)] = [ca for ca in deactivated_cas(json.dumps(plan)) if ca[2] == "eu-west-1"]
    review = render(json.dumps(plan), active_now={(ca_id, account_id, "eu-west-1"): 1234})
    # prod/eu-west-1: 1234 ACTIVE now, one of them revoked by this change.
    assert "in prod/eu-west-1 stops new registrations only: **1233 ACTIVE certificates** it signed keep" in review


def device_1() -> str:
    return next(fp for fp, name in labels().items() if name == "devices/device-1.pem")


def test_the_review_reads_in_aws_what_the_apply_converges_and_nothing_else() -> None:
    """device-1, revoked in both regions, and the 7 new sensors in us-east-1; not the
    certificates the plan leaves as they are."""
    found = {(r.account_id, r.region): r for r in readings((FIXTURES / "plan.json").read_text())}
    assert sorted(found) == [("111111111111", "eu-west-1"), ("111111111111", "us-east-1")]
    assert set(found[("111111111111", "eu-west-1")].wanted) == {device_1()}
    us_east = found[("111111111111", "us-east-1")]
    assert device_1() in us_east.wanted and len(us_east.wanted) == 8
    assert {us_east.wanted[fp].policies for fp in us_east.wanted} == {("telemetry",)}
    assert us_east.role_arn == "arn:aws:iam::111111111111:role/fleet-deployer" and us_east.policies == ("telemetry",)


def test_what_aws_has_already_is_adopted_and_what_it_revoked_already_is_not_revoked_again() -> None:
    plan = (FIXTURES / "plan.json").read_text()
    sensors = sorted(fp for fp in readings(plan)[1].wanted if fp != device_1())
    us_east = {
        device_1(): Entry("REVOKED"),
        **{fp: Entry("ACTIVE") for fp in sensors[:3]},
        sensors[3]: Entry("PENDING_ACTIVATION"),
    }
    review = render(
        plan,
        labels=labels(),
        observed={
            ("111111111111", "us-east-1"): us_east,
            ("111111111111", "eu-west-1"): {device_1(): Entry("ACTIVE")},
        },
    )
    # registered, adopted, activated, deactivated, revoked, deleted, attached, detached: the 3 sensors AWS
    # lacks are registered, the 4 it has adopted (the pending one activated), all given their policy but
    # the 3 that hold it; device-1 is revoked in eu-west-1 only.
    assert "| prod | us-east-1 | 3 | 4 | 1 | 0 | 0 | 0 | 4 | 0 |" in review
    assert "| prod | eu-west-1 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 |" in review
    revoke = f"revoke `{device_1()[:16]}…` devices/device-1.pem (group `line-1`) in prod/"
    assert "**Irreversible: 1 revocation(s).**" in review and f"{revoke}eu-west-1" in review
    assert f"{revoke}us-east-1" not in review
    assert "- group `line-2`: 4 certificate(s) adopted (AWS has them already: not registered again)" in review
    assert NOT_READ not in review and NOT_READ in render(plan)


def test_a_ca_aws_has_already_is_adopted_and_only_what_differs_is_changed() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [step] = [s for s in steps_of(plan, "CaPlacement") if "root.prod.eu-west-1" in s["urn"]]
    step["op"], step["oldState"] = "create", None  # the state forgot it; AWS did not
    [created] = created_cas(json.dumps(plan))
    assert (created.ca, created.account_id, created.region, created.status) == (
        "root",
        "111111111111",
        "eu-west-1",
        "INACTIVE",
    )
    key = (created.certificate_id, created.account_id, created.region)
    section = render(json.dumps(plan), cas_now={key: replace(created, status="ACTIVE")}).split(
        "### prod / eu-west-1\n\n"
    )[1]
    assert section.startswith(
        "- CA `root`: adopted (AWS has it already: not registered again)\n"
        "- CA `root`: ACTIVE → INACTIVE (deactivated)\n"
    )
    assert "- CA `root`: registered (DEFAULT), INACTIVE" in render(json.dumps(plan), cas_now={key: None})
    assert "mode SNI_ONLY, declared DEFAULT: the apply stops there" in render(
        json.dumps(plan), cas_now={key: replace(created, mode="SNI_ONLY")}
    )


def test_a_replacement_is_called_out_first() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [ca] = [s for s in steps_of(plan, "CaPlacement") if s["urn"].endswith("root.prod.eu-west-1")]
    ca["op"] = "replace"
    ca["newState"]["inputs"]["mode"] = "SNI_ONLY"
    review = render(json.dumps(plan))
    assert (
        "> **Replaced (deleted, then made again):**\n> - `root.prod.eu-west-1` in prod/eu-west-1 is deleted and "
        "made again (mode changed)" in review.split("| account |")[0]
    )


def test_a_long_list_is_folded_and_capped() -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [shard] = [s for s in steps_of(plan, "DeviceCertificates") if s["newState"]["inputs"].get("groups")][:1]
    group = next(iter(shard["newState"]["inputs"]["groups"].values()))
    group["certificates"] = {f"{n:064x}": "ACTIVE" for n in range(LIST_AT_MOST + 50)}
    review = render(json.dumps(plan))
    assert f"  <details><summary>{LIST_AT_MOST + 1} items</summary>" in review
    assert "  - and 50 more\n" in review
    assert len(review) < 20_000


def test_a_change_to_the_revocation_ledger_comes_first() -> None:
    change = "ab…cd revoked in 111111111111/us-east-1 on 2026-11-01 (stolen) is no longer in the ledger"
    review = render((FIXTURES / "plan.json").read_text(), ledger_changes=[change])
    head = review.split("> [!WARNING]")[0]  # before the revocations the plan makes
    assert "> **This change removes or alters entries of the revocation ledger, which only grows." in head
    assert f"> - {change}" in head


def test_a_place_handed_over_to_another_stack_is_said_once_and_deletes_nothing() -> None:
    """A sharded stack whose place moved to another stack: the engine plans a delete of each of its
    resources there; the review says what really happens (nothing in AWS), once for the place."""
    plan = json.loads((FIXTURES / "plan.json").read_text())
    in_place = [
        s
        for s in plan["steps"]
        if s["urn"].split("::")[-1].endswith(".prod.eu-west-1") or ".prod.eu-west-1." in s["urn"].split("::")[-1]
    ]
    assert in_place
    state = in_place[0].get("oldState") or in_place[0]["newState"]
    place_key = f"{state.get('outputs', state.get('inputs'))['account_id']}/eu-west-1"
    for step in in_place:
        step["op"] = "delete"
        step.setdefault("oldState", {"outputs": step["newState"]["inputs"]})
        step["oldState"].setdefault("outputs", step["newState"]["inputs"])
    # A refreshed plan (options.refresh: always) lists first what the refresh read: the scope before the move.
    stack = "urn:pulumi:shard-a::fleet::fleet:index:Fleet$pulumi-python:dynamic/fleet:Stack::stack"
    plan["steps"].insert(
        0,
        {
            "op": "refresh",
            "urn": stack,
            "oldState": {"outputs": {"others": {}}},
            "newState": {"inputs": {"others": {}}},
        },
    )
    plan["steps"].append(
        {
            "op": "update",
            "urn": stack,
            "oldState": {"outputs": {"others": {}}},
            "newState": {"inputs": {"others": {place_key: "shard-b"}}},
        }
    )
    review = render(json.dumps(plan), stack="shard-a")
    section = review.split("### prod / eu-west-1\n\n")[1].split("\n\n")[0]
    assert section == (
        "- handed over to stack `shard-b`: this stack forgets its resources here; nothing is deleted in AWS"
    )
    assert "| prod | eu-west-1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in review
    assert review.startswith("<!-- fleet-review:shard-a -->\n## fleet: planned changes to stack `shard-a`\n")


@pytest.mark.parametrize("others", [None, [], "111111111111/eu-west-1", 7])
def test_a_stack_step_of_another_shape_hands_nothing_over(others: object) -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    plan["steps"].append(
        {
            "op": "same",
            "urn": "urn:pulumi:a::fleet::pulumi-python:dynamic/fleet:Stack::stack",
            "newState": {"inputs": {"others": others}},
        }
    )
    assert render(json.dumps(plan), labels=labels()) == (FIXTURES / "review.md").read_text()


def test_a_plan_whose_shards_hold_their_groups_as_json_text_reads_as_one_with_maps() -> None:
    """Plans of this version carry a shard's groups as compact JSON text; older ones as maps."""
    plan = json.loads((FIXTURES / "plan.json").read_text())
    as_maps = render(json.dumps(plan))
    shards = steps_of(plan, "DeviceCertificates")
    converted = 0
    for step in shards:
        for state, key in (("newState", "inputs"), ("oldState", "outputs")):
            props = (step.get(state) or {}).get(key) or {}
            for name in ("groups", "unlisted"):
                if isinstance(props.get(name), dict):
                    props[name] = json.dumps(props[name], separators=(",", ":"), sort_keys=True)
                    converted += 1
    assert converted > 0
    assert render(json.dumps(plan)) == as_maps


@pytest.mark.parametrize("groups", ["{", '{"line-1": 3}', "[" * 100_000 + "]" * 100_000])
def test_a_hand_edited_plan_whose_shard_groups_are_not_json_maps_is_a_plan_error(groups: str) -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [shard] = [s for s in steps_of(plan, "DeviceCertificates") if s["newState"]["inputs"].get("groups")][:1]
    shard["newState"]["inputs"]["groups"] = groups
    with pytest.raises(PlanError, match="not of the shape"):
        render(json.dumps(plan))


@pytest.mark.parametrize("entry", [3, None, ["ACTIVE"], {"status": "ACTIVE", "was_revoked": "yes"}])
def test_a_hand_edited_plan_with_a_certificate_entry_of_another_shape_is_a_plan_error(entry: object) -> None:
    plan = json.loads((FIXTURES / "plan.json").read_text())
    [shard] = [s for s in steps_of(plan, "DeviceCertificates") if s["newState"]["inputs"].get("groups")][:1]
    stored = shard["newState"]["inputs"]["groups"]  # JSON text, or the maps of plans made before it
    groups = json.loads(stored) if isinstance(stored, str) else stored
    group = next(iter(groups.values()))
    group["certificates"][next(iter(group["certificates"]))] = entry
    shard["newState"]["inputs"]["groups"] = json.dumps(groups)
    with pytest.raises(PlanError, match="not of the shape"):
        render(json.dumps(plan))


def test_certificates_the_change_registers_or_changes_that_expire_soon_are_named() -> None:
    registered = "09f15e2a44eb54131a2f25846fdea6669b23dfc07bdd709c3841d0c07d4a0433"  # group line-2, us-east-1
    revoked = "4263bc659c6d8449a85d63a8a5c1a78fde923712663d45bf412a8c531e1395b6"  # revoked: nothing to renew
    root = "4c52228dd89d9a06ff229c8887d3f38de7b7902c1314e7fc109b5a77c6f49a0e"  # deactivated by the plan
    review = render(
        (FIXTURES / "plan.json").read_text(),
        labels=labels(),
        expiring={
            registered: "expires on 2031-01-02",
            revoked: "expires on 2031-01-03",
            root: "expires on 2031-01-04",
            "f" * 64: "expired on 2030-12-01",
        },
    )
    section = review.split("> **Expiring within 30 days: ")[1].split("\n\n")[0].splitlines()
    assert section == [
        "3 certificate(s) this change registers or changes** (`fleet expiry` lists them all):",
        "> - CA `root` in prod/eu-west-1 expires on 2031-01-04",
        "> - CA `root` in prod/us-east-1 expires on 2031-01-04",
        "> - `09f15e2a44eb5413…` in prod/us-east-1 expires on 2031-01-02",
    ]
    assert render((FIXTURES / "plan.json").read_text(), labels=labels()) == (FIXTURES / "review.md").read_text()
