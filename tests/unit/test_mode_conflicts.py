"""A CA placement new to the stack whose CA AWS holds in the other mode is refused by the
program before anything is declared (fleet.program.declare.mode_conflicts); one the stack's state
holds is a replacement, not a conflict. On the example fleet, from an in-process survey."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.aws.ca import CaState
from fleet.manifest import Fleet, load_fleet
from fleet.model.survey import Place, Survey
from fleet.program.declare import mode_conflicts
from fleet.revocation.state_records import Recorded, _recorded

REPO = Path(__file__).resolve().parents[2]
PROD = "111111111111"


@pytest.fixture(scope="module")
def example() -> Fleet:
    return load_fleet(REPO / "manifests", known_regions=frozenset({"us-east-1", "eu-west-1"}))


def surveyed(fleet: Fleet, mode_in_aws: str) -> Survey:
    """AWS holds factory-root in prod, us-east-1 in ``mode_in_aws``; nothing else anywhere."""
    [root] = [s for s in fleet.ca_placements if s.ca == "factory-root" and s.region == "us-east-1"]
    prod = next(a for a in fleet.accounts if a.id == PROD)
    place = Place(prod, "us-east-1")
    place.cas[root.certificate_id] = CaState(root.certificate_id, "arn", "ACTIVE", "DISABLE", mode_in_aws, {})
    return Survey({(PROD, "us-east-1"): place})


def test_a_new_placement_whose_ca_aws_holds_in_the_other_mode_is_refused(example: Fleet) -> None:
    assert mode_conflicts(example, surveyed(example, "SNI_ONLY"), Recorded("prod")) == [
        "CA factory-root (manifests/cas.yaml:14) in account prod (111111111111), us-east-1: the CA is already "
        "registered in mode SNI_ONLY, the manifest says DEFAULT; deregister it first or change the manifest"
    ]


def test_the_same_mode_a_placement_the_state_holds_or_another_stacks_place_is_no_conflict(example: Fleet) -> None:
    assert mode_conflicts(example, surveyed(example, "DEFAULT"), Recorded("prod")) == []
    root_id = next(s.certificate_id for s in example.ca_placements if s.ca == "factory-root")
    holds = Recorded("prod", cas={(PROD, "us-east-1"): {root_id}})
    assert mode_conflicts(example, surveyed(example, "SNI_ONLY"), holds) == []  # a replacement
    assert (
        mode_conflicts(example, surveyed(example, "SNI_ONLY"), Recorded("prod"), frozenset({(PROD, "eu-west-1")})) == []
    )


def test_the_recorded_state_names_each_stacks_ca_placements() -> None:
    exported = {
        "deployment": {
            "resources": [
                {
                    "type": "pulumi-python:dynamic/fleet:CaPlacement",
                    "outputs": {
                        "account": "prod",
                        "account_id": PROD,
                        "region": "us-east-1",
                        "ca": "root",
                        "certificate_id": "ab" * 32,
                        "mode": "DEFAULT",
                        "role_arn": "arn:aws:iam::1:role/r",
                        "certificate_pem": "-----BEGIN CERTIFICATE-----",
                        "status": "ACTIVE",
                        "auto_registration": "DISABLE",
                        "registration_config": {},
                        "source": "manifests/cas.yaml:7",
                    },
                },
                {"type": "pulumi:pulumi:Stack", "outputs": {}},
            ]
        }
    }
    assert _recorded("org/project/prod", exported).cas == {(PROD, "us-east-1"): {"ab" * 32}}
