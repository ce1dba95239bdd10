"""fleet import merges into manifests round-trip: comments, order and hand
edits stay; a second import adds only what is new and leaves everything else
byte for byte; an import stopped between any two of its writes leaves valid
manifests, and the next one ends with the same files as one never stopped;
a PEM already in the repository is never fetched again."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from devtools.pki import issue, make_ca
from fleet.crypto import pki
from fleet.importing import writing
from fleet.importing.fetching import STAGING
from tests.conftest import Manifests
from tests.unit.import_support import (
    ACCOUNTS,
    PROD_EAST,
    PROD_WEST,
    STAGING_EAST,
    Estate,
    files_of,
    fleet_of,
    imported,
    prepare,
)

HAND_WRITTEN_CAS = """\
# Our CAs. The partner's is shared with staging -- one day.
cas:
  partner:   # kept by hand
    certificate: pki/partner.pem
    mode: SNI_ONLY
    placements:
      # prod first
      - {account: prod, regions: [us-east-1]}
"""
HAND_WRITTEN_POLICIES = """\
policies:
  # the one we wrote ourselves
  connect: {document: ../policies/connect.json}
"""


def document(account_id: str, region: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"arn:aws:iot:{region}:{account_id}:topic/t/*"}
        ],
    }


CONNECT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}


class World:
    """The manifests a team wrote by hand, and an estate that has more than they declare."""

    def __init__(self, root: Path):
        self.root = root
        self.manifests = Manifests(root / "manifests")
        self.manifests.text("accounts.yaml", ACCOUNTS)
        self.partner = self.manifests.ca("partner")
        self.manifests.text("cas.yaml", HAND_WRITTEN_CAS)
        self.manifests.text("policies.yaml", HAND_WRITTEN_POLICIES)
        (root / "policies").mkdir()
        (root / "policies" / "connect.json").write_text(json.dumps(CONNECT, indent=2))
        self.factory = make_ca("Factory Root")
        self.estate = Estate()
        estate = self.estate
        for place in (PROD_EAST, STAGING_EAST):
            estate.ca(self.partner, place)
            estate.policy("connect", CONNECT, place)
            estate.policy("telemetry", document(place.account_id, place.region), place, others=("1",))
        estate.ca(
            self.factory,
            PROD_EAST,
            mode="DEFAULT",
            auto_registration="ENABLE",
            config={"template_body": '{"Resources": {}}', "role_arn": "arn:aws:iam::111111111111:role/jitp"},
        )
        estate.ca(self.factory, PROD_WEST, mode="DEFAULT")
        estate.policy("telemetry", document("111111111111", "eu-west-1"), PROD_WEST)
        for n in range(6):
            estate.certificate(
                issue(self.factory, f"device-{n}"),
                PROD_EAST if n < 4 else PROD_WEST,
                ("ACTIVE", "INACTIVE", "REVOKED", "ACTIVE", "ACTIVE", "ACTIVE")[n],
                ca=self.factory,
                policies=("telemetry",) if n != 2 else (),
            )
        shared = issue(self.partner, "partner-0")
        for place in (PROD_EAST, STAGING_EAST):
            estate.certificate(shared, place, ca=self.partner, policies=("connect",))
        estate.certificate(issue(make_ca("Loose"), "loose-0"), STAGING_EAST, "INACTIVE")

    def copy(self, root: Path) -> Manifests:
        shutil.copytree(self.root, root)
        return Manifests(root / "manifests")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "world")


def only_added(before: str, after: str) -> bool:
    """``after`` is ``before`` with lines inserted, nothing else changed."""
    opcodes = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False).get_opcodes()
    return all(tag in ("equal", "insert") for tag, *_ in opcodes)


def test_an_import_adds_to_hand_written_manifests_and_keeps_their_comments_order_and_style(world: World) -> None:
    imported(world.manifests, world.estate)
    cas = (world.manifests.root / "cas.yaml").read_text()
    assert only_added(HAND_WRITTEN_CAS, cas), cas
    assert (
        "      - {account: prod, regions: [us-east-1]}\n      - account: staging\n        regions: [us-east-1]\n"
        "        status: ACTIVE\n        auto_registration: DISABLE\n" in cas
    )  # the partner's new placement
    assert (
        "  # imported from AWS by `fleet import` (registered in prod/eu-west-1, prod/us-east-1)\n"
        "  factory-root:\n    certificate: pki/factory-root.pem\n    mode: DEFAULT\n    registered_in:\n"
        "      - 111111111111/eu-west-1\n      - 111111111111/us-east-1\n    placements:\n"
    ) in cas
    policies = (world.manifests.root / "policies.yaml").read_text()
    assert only_added(HAND_WRITTEN_POLICIES, policies), policies
    assert "  telemetry:\n    document: ../policies/telemetry.json\n    other_versions: keep\n" in policies
    templated = (world.root / "policies" / "telemetry.json").read_text()
    assert '"arn:aws:iot:{{region}}:{{account_id}}:topic/t/*"' in templated
    fleet = fleet_of(world.manifests)  # valid, and declaring all of it
    assert {(g.group, g.account, g.region, len(g.certificates)) for g in fleet.certificate_groups} == {
        ("factory-root-prod-us-east-1", "prod", "us-east-1", 3),
        ("factory-root-prod-eu-west-1", "prod", "eu-west-1", 2),
        ("partner-us-east-1", "prod", "us-east-1", 1),
        ("partner-us-east-1", "staging", "us-east-1", 1),
        ("no-ca-staging-us-east-1", "staging", "us-east-1", 1),
    }
    assert len(fleet.ledger.revocations) == 1
    assert not (world.manifests.root / STAGING).exists()  # the import's leftovers are gone


def test_a_second_import_of_the_same_estate_changes_nothing(world: World) -> None:
    imported(world.manifests, world.estate)
    before = files_of(world.root)
    calls = world.estate.calls
    outcome = imported(world.manifests, world.estate)
    assert outcome.changed == [] and files_of(world.root) == before
    assert world.estate.calls == calls  # nothing to fetch: everything is declared


def test_a_second_import_after_aws_changed_adds_only_what_is_new(world: World) -> None:
    imported(world.manifests, world.estate)
    before = files_of(world.root)
    world.estate.ca(world.factory, STAGING_EAST, mode="SNI_ONLY")  # not possible in DEFAULT mode: said, not placed
    newcomer = world.estate.certificate(
        issue(world.factory, "device-new"), PROD_EAST, "INACTIVE", ca=world.factory, policies=("telemetry",)
    )
    world.estate.ca(world.partner, PROD_WEST)
    imported(world.manifests, world.estate)
    after = files_of(world.root)
    for path, content in before.items():
        if after[path] != content:
            assert path.endswith(".yaml") and only_added(content.decode(), after[path].decode()), path
    added = sorted(set(after) - set(before))
    assert added == [
        "manifests/imported/factory-root-prod-us-east-1-2.yaml",
        f"manifests/imported/factory-root-prod-us-east-1-2/{newcomer}.pem",
    ]
    assert [p for p in before if after[p] != before[p]] == ["manifests/cas.yaml"]  # the partner in prod/eu-west-1


def test_an_import_stopped_between_any_two_writes_leaves_valid_manifests_and_the_next_ends_the_same(
    world: World, tmp_path: Path
) -> None:
    reference = world.copy(tmp_path / "uninterrupted")
    imported(reference, world.estate)
    expected = files_of(reference.root.parent)
    _, steps = prepare(world.copy(tmp_path / "count"), world.estate)
    assert len(steps) > 10
    for stop in range(len(steps)):
        stopped = world.copy(tmp_path / f"stopped-{stop}")
        _, planned = prepare(stopped, world.estate)
        writing.apply(stopped.root, fleet_of(stopped), planned[:stop])
        fleet_of(stopped)  # what a kill left: valid manifests, or this raises
        imported(stopped, world.estate)
        assert files_of(stopped.root.parent) == expected, f"stopped before step {stop}: {planned[stop]}"


def test_a_pem_already_in_the_repository_is_never_fetched_again(world: World) -> None:
    prepare(world.manifests, world.estate)  # fetched, then stopped before writing anything
    staged = sorted((world.manifests.root / STAGING).glob("*.pem"))
    assert len(staged) == 8 and world.estate.calls == 8  # 6 of the factory (one REVOKED), the partner's, the loose one
    staged[0].unlink()
    imported(world.manifests, world.estate)
    assert world.estate.calls == 9  # the one missing, only
    revoked = fleet_of(world.manifests).ledger.revocations
    [(fp, entry)] = revoked.items()
    assert entry.date == "2026-10-01"  # the journal kept AWS's date beside the fetched PEM
    assert pki.certificate_id(pki.load_certificate((world.manifests.root / "revoked" / f"{fp}.pem").read_bytes())) == fp


def test_a_pem_aws_gives_that_does_not_parse_is_said_and_skipped(world: World) -> None:
    broken = issue(world.factory, "broken")
    fp = world.estate.certificate(broken, PROD_EAST, ca=world.factory, policies=("telemetry",))
    world.estate.pems[fp] = broken.cert_pem * 2  # two certificates where one is expected
    outcome = imported(world.manifests, world.estate)
    [note] = [n for n in outcome.notes if n.subject == f"certificate {fp}"]
    assert note.text == (
        "AWS gave a PEM fleet cannot read (expected exactly one PEM certificate (-----BEGIN CERTIFICATE-----))"
    )
    assert fp not in {c.fingerprint for g in fleet_of(world.manifests).certificate_groups for c in g.certificates}
