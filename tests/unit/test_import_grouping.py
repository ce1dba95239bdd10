"""fleet import's decisions about device certificates, on estates held in
memory (tests.unit.import_support): groups by CA, place, policies and
things, the most common status the group's and the others exceptions;
REVOKED ones into the ledger with AWS's date; pending ones reported, not
imported; what cannot be declared left out, said; what the manifests
declare already compared, never re-imported."""

from __future__ import annotations

import datetime

import pytest

from devtools.pki import Issued, issue, make_ca
from fleet.crypto import pki
from fleet.importing import certificates
from fleet.importing.notes import CONFLICT, FIRST_UP, LEFT_OUT
from tests.conftest import Manifests
from tests.unit.import_support import (
    ACCOUNTS,
    PROD_EAST,
    PROD_WEST,
    STAGING_EAST,
    Estate,
    files_of,
    imported,
)

TELEMETRY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": "*"}]}


@pytest.fixture
def manifests(manifests: Manifests) -> Manifests:
    manifests.text("accounts.yaml", ACCOUNTS)
    return manifests


@pytest.fixture
def factory() -> Issued:
    return make_ca("Factory Root")


def devices(ca: Issued, n: int, prefix: str = "device") -> list[Issued]:
    return [issue(ca, f"{prefix}-{i}") for i in range(n)]


Summary = tuple[str, str | None, tuple[str, ...], tuple[str, ...], str, str, int, dict[str, int]]


def summary(outcome: object) -> list[Summary]:
    """Each group: name, CA, places, policies, things, status, size, and how many of each status."""
    groups = outcome.grouped.groups  # type: ignore[attr-defined]
    return [
        (
            g.name,
            g.ca,
            tuple(p.label for p in g.places),
            g.policies,
            g.things,
            g.status,
            len(g.certificates),
            {s: list(g.certificates.values()).count(s) for s in sorted(set(g.certificates.values()))},
        )
        for g in groups
    ]


def test_a_group_takes_the_most_common_status_and_the_others_are_exceptions(
    manifests: Manifests, factory: Issued
) -> None:
    estate = Estate()
    estate.ca(factory, PROD_EAST)
    estate.policy("telemetry", TELEMETRY, PROD_EAST)
    made = devices(factory, 5)
    for n, device in enumerate(made):
        estate.certificate(device, PROD_EAST, "INACTIVE" if n == 3 else "ACTIVE", ca=factory, policies=("telemetry",))
    outcome = imported(manifests, estate)
    assert summary(outcome) == [
        (
            "factory-root-prod-us-east-1",
            "factory-root",
            ("prod/us-east-1",),
            ("telemetry",),
            "none",
            "ACTIVE",
            5,
            {"ACTIVE": 4, "INACTIVE": 1},
        )
    ]
    text = (manifests.root / "imported" / "factory-root-prod-us-east-1.yaml").read_text()
    inactive = pki.certificate_id(made[3].cert)
    assert (
        "    status: ACTIVE\n    policies: [telemetry]\n    exceptions:\n"
        f"      - certificate: factory-root-prod-us-east-1/{inactive}.pem\n        status: INACTIVE\n"
    ) in text


def test_groups_are_by_ca_and_place_and_certificates_without_a_ca_are_groups_without_one(
    manifests: Manifests, factory: Issued
) -> None:
    partner, loose = make_ca("Partner CA"), make_ca("Loose CA")
    estate = Estate()
    for place in (PROD_EAST, PROD_WEST):
        estate.ca(factory, place)
    estate.ca(partner, PROD_EAST)
    for device in devices(factory, 3, "east"):
        estate.certificate(device, PROD_EAST, ca=factory)
    for device in devices(factory, 2, "west"):
        estate.certificate(device, PROD_WEST, ca=factory)
    estate.certificate(issue(partner, "p"), PROD_EAST, ca=partner)
    for device in devices(loose, 2, "loose"):
        estate.certificate(device, STAGING_EAST, "INACTIVE")
    outcome = imported(manifests, estate)
    assert [(name, ca, places, size) for name, ca, places, _, _, _, size, _ in summary(outcome)] == [
        ("factory-root-prod-us-east-1", "factory-root", ("prod/us-east-1",), 3),
        ("no-ca-staging-us-east-1", None, ("staging/us-east-1",), 2),
        ("factory-root-prod-eu-west-1", "factory-root", ("prod/eu-west-1",), 2),
        ("partner-ca-prod-us-east-1", "partner-ca", ("prod/us-east-1",), 1),
    ]
    text = (manifests.root / "imported" / "no-ca-staging-us-east-1.yaml").read_text()
    assert (
        "  no-ca-staging-us-east-1:\n    certificates: no-ca-staging-us-east-1\n    placements:\n"
        "      - account: staging\n        regions: [us-east-1]\n    status: INACTIVE\n" in text
    )


def test_a_certificate_registered_alike_in_several_places_is_one_group_placed_in_all(
    manifests: Manifests, factory: Issued
) -> None:
    estate = Estate()
    for place in (PROD_EAST, STAGING_EAST):
        estate.ca(factory, place)
        estate.policy("telemetry", TELEMETRY, place)
    for device in devices(factory, 2):
        for place in (PROD_EAST, STAGING_EAST):
            estate.certificate(device, place, ca=factory, policies=("telemetry",))
    outcome = imported(manifests, estate)
    assert summary(outcome) == [
        (
            "factory-root-us-east-1",
            "factory-root",
            ("prod/us-east-1", "staging/us-east-1"),
            ("telemetry",),
            "none",
            "ACTIVE",
            2,
            {"ACTIVE": 2},
        )
    ]
    assert estate.calls == 2  # one PEM per certificate, however many places hold it


def test_a_certificate_registered_differently_in_its_places_is_left_out_and_said(
    manifests: Manifests, factory: Issued
) -> None:
    estate = Estate()
    for place in (PROD_EAST, STAGING_EAST):
        estate.ca(factory, place)
    device = issue(factory, "odd")
    estate.certificate(device, PROD_EAST, "ACTIVE", ca=factory)
    estate.certificate(device, STAGING_EAST, "INACTIVE", ca=factory)
    outcome = imported(manifests, estate)
    assert summary(outcome) == []
    [note] = [n for n in outcome.notes if n.kind == LEFT_OUT]
    assert note.text.startswith(
        "registered differently in its places (prod/us-east-1: ACTIVE, CA factory-root, "
        "policies none; staging/us-east-1: INACTIVE, CA factory-root, policies none)"
    )


def test_policies_attached_split_a_place_into_groups_the_largest_first(manifests: Manifests, factory: Issued) -> None:
    estate = Estate()
    estate.ca(factory, PROD_EAST)
    for name in ("telemetry", "debug"):
        estate.policy(name, TELEMETRY, PROD_EAST)
    for n, device in enumerate(devices(factory, 5)):
        estate.certificate(device, PROD_EAST, ca=factory, policies=("telemetry", "debug") if n < 2 else ("telemetry",))
    outcome = imported(manifests, estate)
    assert [(name, policies, size) for name, _, _, policies, _, _, size, _ in summary(outcome)] == [
        ("factory-root-prod-us-east-1", ("telemetry",), 3),
        ("factory-root-prod-us-east-1-2", ("debug", "telemetry"), 2),
    ]


def test_with_things_a_certificate_on_the_thing_its_common_name_names_is_declared_so(
    manifests: Manifests, factory: Issued
) -> None:
    estate = Estate()
    estate.ca(factory, PROD_EAST)
    named, other, none = issue(factory, "sensor-1"), issue(factory, "sensor-2"), issue(factory, "sensor-3")
    estate.certificate(named, PROD_EAST, ca=factory, things=("sensor-1",))
    estate.certificate(other, PROD_EAST, ca=factory, things=("gateway",))
    estate.certificate(none, PROD_EAST, ca=factory)
    outcome = imported(manifests, estate, things=True)
    assert [(things, size) for _, _, _, _, things, _, size, _ in summary(outcome)] == [("none", 2), ("common-name", 1)]
    [note] = [n for n in outcome.notes if n.kind == LEFT_OUT]
    assert (note.subject, note.place) == ("1 certificate(s)", "prod/us-east-1")
    assert note.text.startswith("attached to things not named by their common name")
    assert estate.calls == 6  # a PEM and the things of each


def test_a_group_whose_exceptions_would_be_too_many_is_split_by_status(
    manifests: Manifests, factory: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(certificates, "MAX_EXCEPTIONS", 1)
    estate = Estate()
    estate.ca(factory, PROD_EAST)
    for n, device in enumerate(devices(factory, 5)):
        estate.certificate(device, PROD_EAST, "INACTIVE" if n < 2 else "ACTIVE", ca=factory)
    outcome = imported(manifests, estate)
    assert [(name, status, counts) for name, _, _, _, _, status, _, counts in summary(outcome)] == [
        ("factory-root-prod-us-east-1", "ACTIVE", {"ACTIVE": 3}),
        ("factory-root-prod-us-east-1-2", "INACTIVE", {"INACTIVE": 2}),
    ]


def test_revoked_certificates_go_into_the_ledger_with_aws_date_and_pending_ones_are_only_reported(
    manifests: Manifests, factory: Issued
) -> None:
    estate = Estate()
    estate.ca(factory, PROD_EAST, auto_registration="ENABLE")
    active, revoked, pending = issue(factory, "a"), issue(factory, "r"), issue(factory, "p")
    estate.certificate(active, PROD_EAST, ca=factory)
    revoked_id = estate.certificate(revoked, PROD_EAST, "REVOKED", ca=factory)
    pending_id = estate.certificate(pending, PROD_EAST, "PENDING_ACTIVATION", ca=factory)
    transfer_id = estate.certificate(issue(make_ca("elsewhere"), "t"), STAGING_EAST, "PENDING_TRANSFER")
    outcome = imported(manifests, estate)
    assert [size for *_, size, _ in summary(outcome)] == [1]
    ledger = (manifests.root / "revocations.yaml").read_text()
    assert (
        "  entries:\n    - date: 2026-10-01\n      reason: revoked in AWS before import\n      ca: factory-root\n"
        f"      places:\n        - 111111111111/us-east-1\n      certificates: |\n        {revoked_id}\n"
    ) in ledger
    assert (manifests.root / "revoked" / f"{revoked_id}.pem").read_text() == pki.to_pem(revoked.cert)
    assert [(p.ca, p.place.label, p.fingerprint, p.auto_activation, p.decision) for p in outcome.grouped.pending] == [
        (
            "factory-root",
            "prod/us-east-1",
            pending_id,
            "off",
            "activate: signed by the CA, revoked nowhere, not on its revocation list",
        ),
        ("none", "staging/us-east-1", transfer_id, "off", "PENDING_TRANSFER: not imported"),
    ]
    assert not any(pending_id in str(p) or transfer_id in str(p) for p in files_of(manifests.root))


def test_a_certificate_revoked_in_one_place_and_usable_in_another_is_said_to_be_revoked_by_the_first_up(
    manifests: Manifests, factory: Issued
) -> None:
    estate = Estate()
    for place in (PROD_EAST, STAGING_EAST):
        estate.ca(factory, place)
    device = issue(factory, "stolen")
    fp = estate.certificate(device, PROD_EAST, "REVOKED", ca=factory)
    estate.certificate(device, STAGING_EAST, "ACTIVE", ca=factory)
    outcome = imported(manifests, estate)
    assert summary(outcome) == []
    [note] = [n for n in outcome.notes if n.kind == FIRST_UP]
    assert note.text == (
        "REVOKED in prod/us-east-1 and ACTIVE in staging/us-east-1: `pulumi up` revokes it there "
        "too (a revoked certificate is usable nowhere)"
    )
    assert fp in (manifests.root / "revocations.yaml").read_text()


def test_what_fleet_validate_would_refuse_is_left_out_and_said(manifests: Manifests, factory: Issued) -> None:
    expired_ca = make_ca("Old CA", not_before=datetime.datetime(2010, 1, 1, tzinfo=datetime.UTC), days=365)
    estate = Estate()
    estate.ca(factory, PROD_EAST)
    estate.ca(expired_ca, PROD_EAST)
    old = issue(factory, "old", not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC), days=30)
    old_id = estate.certificate(old, PROD_EAST, ca=factory)
    orphan_id = estate.certificate(issue(expired_ca, "orphan"), PROD_EAST, ca=expired_ca)
    outcome = imported(manifests, estate)
    assert summary(outcome) == [] and not outcome.cas.imported[1:]
    said = {(n.subject, n.text.split(":")[0].split(" (")[0]) for n in outcome.notes if n.kind == LEFT_OUT}
    assert said == {
        ("CA " + pki.certificate_id(expired_ca.cert), "it is expired on 2011-01-01 00"),
        (f"certificate {old_id}", "it is expired on 2020-01-31 00"),
        (f"certificate {orphan_id}", f"its CA {pki.certificate_id(expired_ca.cert)} is left out"),
    }


def test_what_the_manifests_declare_is_compared_never_imported_again(manifests: Manifests, factory: Issued) -> None:
    estate = Estate()
    estate.ca(factory, PROD_EAST)
    made = devices(factory, 3)
    for device in made:
        estate.certificate(device, PROD_EAST, ca=factory)
    imported(manifests, estate)
    before = files_of(manifests.root)
    changed_id = estate.certificate(made[1], PROD_EAST, "INACTIVE", ca=factory)  # changed by hand since
    outcome = imported(manifests, estate)
    assert files_of(manifests.root) == before and outcome.changed == []
    [note] = [n for n in outcome.notes if n.kind == CONFLICT]
    assert (note.subject, note.place) == (f"certificate {changed_id}", "prod/us-east-1")
    assert note.text == "INACTIVE in AWS, ACTIVE at manifests/imported/factory-root-prod-us-east-1.yaml:5"
