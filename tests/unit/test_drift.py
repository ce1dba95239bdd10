"""fleet.reports.drift and fleet.program.resources on in-process listings: which differences
are drift, which resource each belongs to, and what the program declares
for just-in-time registrations. (The engine tests make each kind by hand
against the local endpoint.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from devtools.pki import Issued, issue
from fleet.aws.ca import CaState
from fleet.aws.certificates import CertificateSummary
from fleet.aws.listing import PolicyListing
from fleet.aws.policies import PolicyState
from fleet.crypto import pki
from fleet.manifest.desired import Fleet
from fleet.manifest.groups import GroupKind, group_name
from fleet.model import observe
from fleet.model.declarations import Inputs
from fleet.model.survey import Place, Survey
from fleet.program.resources import declare
from fleet.reports.drift import Drift, find
from tests.conftest import Manifests
from tests.unit.test_device_manifests import ACCOUNTS, CAS, GROUP, POLICIES, TELEMETRY, load

ARN = "arn:aws:iot:us-east-1:111111111111:cert/"
PROD_EAST = ("111111111111", "us-east-1")


@dataclass
class FakeListing:
    """What fleet.aws.listing.PlaceListing answers, held in memory."""

    everything: dict[str, CertificateSummary] = field(default_factory=dict)
    under: dict[str, dict[str, CertificateSummary]] = field(default_factory=dict)
    states: dict[str, CaState] = field(default_factory=dict)
    policies: dict[str, PolicyListing] = field(default_factory=dict)

    def certificates(self) -> dict[str, CertificateSummary]:
        return self.everything

    def under_ca(self, ca_id: str) -> dict[str, CertificateSummary]:
        return self.under.get(ca_id, {})

    def ca(self, ca_id: str) -> CaState | None:
        return self.states.get(ca_id)

    def policy(self, name: str) -> PolicyListing:
        return self.policies.get(name, PolicyListing(None, [], frozenset()))

    def derived(self, _name: str, make: Callable[[], Any]) -> Any:
        return make()  # computed afresh each time: what the real listing keeps, the tests may change


@dataclass
class World:
    """AWS as the tests shape it: a listing per account and region, and the program's survey."""

    listings: dict[tuple[str, str], FakeListing]
    survey: Survey

    def listing_for(self, inputs: Inputs) -> FakeListing:
        return self.listings[inputs.place]

    def add(
        self,
        place: tuple[str, str],
        summary: CertificateSummary,
        ca_id: str | None = None,
        policies: tuple[str, ...] = (),
    ) -> None:
        listing = self.listings[place]
        listing.everything[summary.certificate_id] = summary
        survey_place = self.survey.places[place]
        survey_place.certificates[summary.certificate_id] = summary
        if ca_id:
            listing.under.setdefault(ca_id, {})[summary.certificate_id] = summary
            survey_place.under_ca.setdefault(ca_id, []).append(summary)
        for name in policies:
            old = listing.policies[name]
            listing.policies[name] = replace(old, targets=old.targets | {summary.arn})


def in_sync(fleet: Fleet) -> World:
    """What AWS has when it matches the manifests exactly."""
    listings, places = {}, {}
    for account in fleet.accounts:
        for region in account.regions:
            key = (account.id, region)
            listing, place = FakeListing(), Place(account, region)
            for group in (g for g in fleet.certificate_groups if (g.account_id, g.region) == key):
                for cert in group.certificates:
                    summary = CertificateSummary(cert.fingerprint, ARN + cert.fingerprint, cert.status)
                    listing.everything[cert.fingerprint] = place.certificates[cert.fingerprint] = summary
            for spec in (p for p in fleet.ca_placements if (p.account_id, p.region) == key):
                state = CaState(spec.certificate_id, "arn", spec.status, spec.auto_registration, spec.mode, {})
                listing.states[spec.certificate_id] = place.cas[spec.certificate_id] = state  # type: ignore[assignment]
                listing.under[spec.certificate_id] = dict(listing.everything)
                place.under_ca[spec.certificate_id] = list(listing.everything.values())
            for policy in (p for p in fleet.policies if (p.account_id, p.region) == key):
                holders = frozenset(c.arn for c in listing.everything.values() if c.status != "REVOKED")
                listing.policies[policy.name] = PolicyListing(PolicyState("1", policy.document), [(1, True)], holders)
            listings[key], places[key] = listing, place
    return World(listings, Survey(places))


@pytest.fixture
def root(manifests: Manifests) -> Issued:
    return manifests.ca("root")


@pytest.fixture
def fleet(manifests: Manifests, root: Issued) -> Fleet:
    for n in range(3):
        issue(root, f"device-{n}").write(manifests.root / "devices" / f"device-{n}.pem")
    for name, text in (
        ("accounts.yaml", ACCOUNTS),
        ("cas.yaml", CAS),
        ("policies.yaml", POLICIES),
        ("telemetry.json", json.dumps(TELEMETRY)),
        ("devices.yaml", GROUP),
    ):
        manifests.text(name, text)
    return load(manifests)


def drift(fleet: Fleet, world: World) -> list[Drift]:
    return find(fleet, world.survey, world.listing_for, Path.cwd())  # type: ignore[arg-type]


def kinds(fleet: Fleet, world: World) -> list[tuple[str, str, str]]:
    return [(d.region, d.kind, d.resource) for d in drift(fleet, world)]


def test_aws_matching_the_manifests_is_no_drift(fleet: Fleet) -> None:
    assert kinds(fleet, in_sync(fleet)) == []


def test_each_difference_goes_to_the_resource_that_puts_it_back(fleet: Fleet) -> None:
    world = in_sync(fleet)
    listing = world.listings[PROD_EAST]
    first, second = sorted(listing.everything)[:2]
    listing.everything[first] = CertificateSummary(first, ARN + first, "INACTIVE")
    telemetry = listing.policies["telemetry"]
    listing.policies["telemetry"] = replace(
        telemetry,
        versions=[(1, True), (2, False)],
        targets=telemetry.targets - {ARN + second} | {"arn:aws:iot:us-east-1:111111111111:thinggroup/by-hand"},
    )
    assert sorted(kinds(fleet, world)) == sorted(
        [
            ("us-east-1", "certificate-status", f"certs.prod.us-east-1.{first[0]}"),
            ("us-east-1", "policy-detached", f"certs.prod.us-east-1.{second[0]}"),
            ("us-east-1", "policy-attached", "policy.telemetry.prod.us-east-1"),
            ("us-east-1", "policy-versions", "policy.telemetry.prod.us-east-1"),
        ]
    )


def test_any_version_besides_the_default_is_drift_the_policy_removes(fleet: Fleet) -> None:
    world = in_sync(fleet)
    telemetry = world.listings[PROD_EAST].policies["telemetry"]
    world.listings[PROD_EAST].policies["telemetry"] = replace(telemetry, versions=[(1, False), (2, True)])
    [found] = drift(fleet, world)
    assert (found.kind, found.aws) == ("policy-versions", "version 1 besides the default")


def test_versions_the_manifests_keep_are_no_drift(manifests: Manifests, fleet: Fleet) -> None:
    """`other_versions: keep` (what `fleet import` writes for a policy that has some): neither drift nor removed."""
    manifests.text("policies.yaml", POLICIES + "    other_versions: keep\n")
    kept = load(manifests)
    assert {p.keep_other_versions for p in kept.policies} == {True}
    world = in_sync(kept)
    telemetry = world.listings[PROD_EAST].policies["telemetry"]
    world.listings[PROD_EAST].policies["telemetry"] = replace(telemetry, versions=[(1, False), (2, False), (3, True)])
    assert drift(kept, world) == []
    [declared] = [p for p in declare(kept, world.survey, Path.cwd()).policies if p.place == PROD_EAST]
    assert observe.policy(world.listings[PROD_EAST], declared) == declared  # what the provider converges on


def unlisted(fleet: Fleet, world: World, status: str, root: Issued, policies: tuple[str, ...] = ()) -> str:
    """A certificate under root in prod/us-east-1 that no manifest lists."""
    device = issue(root, "self-registered")
    fingerprint = pki.certificate_id(device.cert)
    world.add(
        PROD_EAST,
        CertificateSummary(fingerprint, ARN + fingerprint, status),
        fleet.ca_placements[0].certificate_id,
        policies,
    )
    world.survey.places[PROD_EAST].pending_pems[fingerprint] = device.cert_pem
    return fingerprint


def test_certificates_no_manifest_lists_are_drift_of_the_resource_of_their_fingerprint(
    fleet: Fleet, root: Issued
) -> None:
    world = in_sync(fleet)
    pending = unlisted(fleet, world, "PENDING_ACTIVATION", root)
    active = unlisted(fleet, world, "ACTIVE", root, policies=("telemetry",))
    unlisted(fleet, world, "REVOKED", root)  # fleet's own record of a revocation: not drift
    found = drift(fleet, world)
    assert sorted((d.kind, d.resource) for d in found) == sorted(
        [
            ("pending-activation", f"certs.prod.us-east-1.{pending[0]}"),
            ("policy-attached", f"certs.prod.us-east-1.{active[0]}"),  # detached by up: no manifest wants it there
            ("unlisted-certificate", f"certs.prod.us-east-1.{active[0]}"),
        ]
    )
    [said] = [d.manifests for d in found if d.subject == f"certificate {pending[:16]}…"]
    assert said == "not listed, no auto_activation at manifests/cas.yaml:6: `fleet pending --adopt`"


def test_a_revocation_in_aws_is_drift_the_manifests_must_adopt(fleet: Fleet) -> None:
    world = in_sync(fleet)
    place = ("111111111111", "eu-west-1")
    first = sorted(world.listings[place].everything)[0]
    world.listings[place].everything[first] = CertificateSummary(first, ARN + first, "REVOKED")
    world.survey.places[place].revoked_on[first] = "2026-11-20"
    [found] = drift(fleet, world)
    assert (found.kind, found.aws) == ("certificate-revoked", "REVOKED since 2026-11-20")
    assert "never un-revoked: adopt the revocation (`fleet drift --adopt-revocations`)" in found.manifests


def auto_activating(fleet: Fleet) -> Fleet:
    placements = tuple(
        replace(p, auto_registration="ENABLE", activation_policies=("telemetry",)) for p in fleet.ca_placements
    )
    return replace(fleet, ca_placements=placements)


def auto_group(fleet: Fleet, world: World) -> dict[str, str]:
    """What the program declares for auto_activation in prod/us-east-1, every shard together."""
    shards = declare(fleet, world.survey, Path.cwd()).shards
    return {
        fp: status
        for s in shards
        if s.place == PROD_EAST
        for fp, status in s.groups.get(group_name(GroupKind.AUTOMATIC, "root"), _empty()).certificates.items()
    }


def _empty() -> object:
    return type("Empty", (), {"certificates": {}})()


def test_under_auto_activation_a_good_pending_registration_is_declared_active(fleet: Fleet, root: Issued) -> None:
    fleet = auto_activating(fleet)
    world = in_sync(fleet)
    pending = unlisted(fleet, world, "PENDING_ACTIVATION", root)
    activated = unlisted(fleet, world, "ACTIVE", root, policies=("telemetry",))  # taken in earlier: not drift
    assert auto_group(fleet, world) == {pending: "ACTIVE", activated: "ACTIVE"}
    found = drift(fleet, world)
    assert [(d.kind, d.subject) for d in found] == [("pending-activation", f"certificate {pending[:16]}…")]
    assert found[0].manifests == "auto_activation at manifests/cas.yaml:6: `pulumi up` activates it"


def test_under_auto_activation_nothing_revoked_elsewhere_is_activated_or_excused(fleet: Fleet, root: Issued) -> None:
    fleet = auto_activating(fleet)
    world = in_sync(fleet)
    pending = unlisted(fleet, world, "PENDING_ACTIVATION", root)
    activated = unlisted(fleet, world, "ACTIVE", root)
    elsewhere = world.survey.places[("111111111111", "eu-west-1")]
    for fingerprint in (pending, activated):  # revoked in another region
        elsewhere.certificates[fingerprint] = CertificateSummary(fingerprint, ARN + fingerprint, "REVOKED")
    assert auto_group(fleet, world) == {}
    found = drift(fleet, world)
    assert sorted(d.kind for d in found) == ["pending-activation", "unlisted-certificate"]
    [refused] = [d for d in found if d.kind == "pending-activation"]
    assert refused.manifests.endswith(
        "refuses it: it is revoked (by the revocation ledger, in AWS or in the manifests)"
    )


def test_nothing_is_activated_under_a_ca_the_manifests_deactivate(fleet: Fleet, root: Issued) -> None:
    fleet = auto_activating(fleet)
    fleet = replace(fleet, ca_placements=tuple(replace(p, status="INACTIVE") for p in fleet.ca_placements))
    world = in_sync(fleet)
    for place in world.survey:
        for ca_id, state in place.cas.items():
            assert state is not None
            place.cas[ca_id] = replace(state, status="ACTIVE")  # AWS still has it ACTIVE
    unlisted(fleet, world, "PENDING_ACTIVATION", root)
    assert auto_group(fleet, world) == {}
    assert any(d.manifests.endswith("refuses it: the CA is INACTIVE") for d in drift(fleet, world))
