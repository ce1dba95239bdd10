"""Which places a stack manages when the fleet runs as several stacks (fleet.program.stack_scope),
decided on the example fleet: prod (111111111111) and staging (222222222222), each in
us-east-1 and eu-west-1."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.manifest import Fleet, load_fleet
from fleet.program.stack_scope import Scope, ScopeError, decide, other_scopes, places_of, scope_of
from fleet.revocation.state_records import Recorded

REPO = Path(__file__).resolve().parents[2]
PROD, STAGING = "111111111111", "222222222222"


@pytest.fixture(scope="module")
def example() -> Fleet:
    return load_fleet(REPO / "manifests", known_regions=frozenset({"us-east-1", "eu-west-1"}))


def held(stack: str, *places: tuple[str, str]) -> Recorded:
    return Recorded(stack, dict.fromkeys(places, "role"))


def test_a_stack_without_places_manages_every_place(example: Fleet) -> None:
    decision = decide(example, Scope("only", None), [], [held("only", (PROD, "us-east-1"))])
    assert decision.mine == places_of(example) and not decision.refusals and not decision.others
    assert {(PROD, "us-east-1"), (STAGING, "eu-west-1")} <= decision.mine


def test_two_shards_split_the_fleet_and_each_knows_the_others_places(example: Fleet) -> None:
    prod = scope_of("prod", ["prod"], "Pulumi.prod.yaml", example)
    staging = scope_of("staging", ["222222222222/us-east-1", "staging/eu-west-1"], "Pulumi.staging.yaml", example)
    first, second = decide(example, prod, [staging], []), decide(example, staging, [prod], [])
    assert not first.refusals and not second.refusals
    assert first.mine == {(PROD, "us-east-1"), (PROD, "eu-west-1")}
    assert second.mine == {(STAGING, "us-east-1"), (STAGING, "eu-west-1")}
    assert first.others == dict.fromkeys(second.mine, "staging") and not first.handed_over


def test_a_place_in_two_stacks_places_is_refused_naming_the_other(example: Fleet) -> None:
    prod = scope_of("prod", ["prod"], "Pulumi.prod.yaml", example)
    also = scope_of("also", ["prod/eu-west-1"], "Pulumi.also.yaml", example)
    staging = scope_of("staging", ["staging"], "Pulumi.staging.yaml", example)
    decision = decide(example, prod, [also, staging], [])
    assert decision.refusals == (
        "  prod/eu-west-1 is in the places of stack `also` (Pulumi.also.yaml) and of this "
        "stack `prod`: a place belongs to one stack",
    )


def test_a_stack_without_places_beside_sharded_ones_is_refused_naming_them(example: Fleet) -> None:
    prod = scope_of("prod", ["prod"], "Pulumi.prod.yaml", example)
    staging = scope_of("staging", ["staging"], "Pulumi.staging.yaml", example)
    refusals = decide(example, Scope("third", None), [prod, staging], []).refusals
    assert any("stack `prod`" in r for r in refusals) and any("stack `staging`" in r for r in refusals)
    assert len(refusals) == len(places_of(example))


def test_a_new_stack_never_takes_over_what_an_unsharded_stack_holds(example: Fleet) -> None:
    new = scope_of("new", ["staging"], "Pulumi.new.yaml", example)
    refusals = decide(example, new, [Scope("old", None)], [held("old", (STAGING, "eu-west-1"))]).refusals
    assert refusals == (
        "  staging/eu-west-1 is managed by stack `old` (its state holds it, and its configuration "
        "names no places): to move it to this stack, give `old` places without it",
    )


def test_a_place_moves_between_shards_whichever_stack_runs_first(example: Fleet) -> None:
    # The change moves staging/eu-west-1 from stack a's places to stack b's; a's state still holds it.
    a = scope_of("a", ["prod", "staging/us-east-1"], "Pulumi.a.yaml", example)
    b = scope_of("b", ["staging/eu-west-1"], "Pulumi.b.yaml", example)
    states = [held("a", (PROD, "us-east-1"), (STAGING, "us-east-1"), (STAGING, "eu-west-1"))]
    b_first = decide(example, b, [a], states)
    assert not b_first.refusals and b_first.mine == {(STAGING, "eu-west-1")}
    a_run = decide(example, a, [b], states)
    assert not a_run.refusals and a_run.handed_over == {(STAGING, "eu-west-1"): "b"}


def test_dropping_a_place_no_stack_names_is_refused(example: Fleet) -> None:
    a = scope_of("a", ["prod"], "Pulumi.a.yaml", example)
    b = scope_of("b", ["staging/eu-west-1"], "Pulumi.b.yaml", example)
    refusals = decide(example, a, [b], [held("a", (PROD, "us-east-1"), (STAGING, "us-east-1"))]).refusals
    assert refusals == (
        "  staging/us-east-1: this stack `a` manages it, but neither its places nor any other "
        "stack's name it; to move it, name it in another stack's places; to delete what is there, "
        "remove it from the manifests",
    )


def test_a_place_no_stack_names_is_refused_by_every_sharded_stack(example: Fleet) -> None:
    """A new account in the manifests that no stack's places name would never be reconciled."""
    a = scope_of("a", ["prod"], "Pulumi.a.yaml", example)
    b = scope_of("b", ["staging/us-east-1"], "Pulumi.b.yaml", example)
    expected = (
        "  staging/eu-west-1 is in the manifests but in no stack's places: nothing would manage it; "
        "name it in one stack's places",
    )
    assert decide(example, a, [b], []).refusals == expected
    assert decide(example, b, [a], []).refusals == expected
    assert not decide(example, a, [b, Scope("everything", None)], []).refusals  # covered, if by another rule's refusal


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["prd"], "Pulumi.a.yaml: places: 'prd': no account 'prd' in the manifests (known: prod, staging)"),
        (
            ["prod/ap-south-1"],
            "Pulumi.a.yaml: places: 'prod/ap-south-1': account prod has no region 'ap-south-1' "
            "(its regions: us-east-1, eu-west-1)",
        ),
        ("prod", "Pulumi.a.yaml: places must be a list of ACCOUNT or ACCOUNT/REGION, got 'prod'"),
        ([], "Pulumi.a.yaml: places must be a list of ACCOUNT or ACCOUNT/REGION, got []"),
    ],
)
def test_places_that_name_nothing_are_refused_naming_the_file(example: Fleet, entries: object, message: str) -> None:
    with pytest.raises(ScopeError) as caught:
        scope_of("a", entries, "Pulumi.a.yaml", example)
    assert str(caught.value) == message


def test_other_stacks_places_are_read_from_their_configuration_files(example: Fleet, tmp_path: Path) -> None:
    (tmp_path / "Pulumi.a.yaml").write_text("config:\n  fleet:places:\n    - prod\n")
    (tmp_path / "Pulumi.b.yaml").write_text("config:\n  fleet:manifests: manifests\n")
    (tmp_path / "Pulumi.c.yaml").write_text("config:\n  fleet:places: [nowhere]\n")
    assert other_scopes(tmp_path, "fleet", "c", example) == [
        Scope("a", ("prod",), "Pulumi.a.yaml"),
        Scope("b", None, "Pulumi.b.yaml"),
    ]
    with pytest.raises(ScopeError, match="Pulumi.c.yaml: places: 'nowhere'"):
        other_scopes(tmp_path, "fleet", "a", example)
