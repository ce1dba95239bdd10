"""One import, start to end: read every place (in parallel), decide, fetch
what AWS gives per certificate only, decide the groups, write. Nothing is
written before every place has been read: an account that cannot be reached
stops the import with the manifests as they were."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.importing import cas as ca_decisions
from fleet.importing import certificates, estate, existing, fetching, plan, writing
from fleet.importing import policies as policy_decisions
from fleet.importing.estate import Place, PlaceEstate
from fleet.importing.notes import LEFT_OUT, Note
from fleet.manifest.desired import Fleet
from fleet.settings import Settings


@dataclass
class Outcome:
    estates: list[PlaceEstate]
    cas: ca_decisions.Decided
    policies: policy_decisions.Decided
    grouped: certificates.Grouped
    changed: list[Path]
    notes: list[Note] = field(default_factory=list)
    calls: int = 0  # per-certificate calls made (DescribeCertificate, ListPrincipalThings)


def places_of(fleet: Fleet, accounts: Sequence[str], regions: Sequence[str]) -> list[Place]:
    """The accounts and regions to read: every one of the manifests', or those asked."""
    return sorted(
        Place(a.id, region, a.name, a.role_arn)
        for a in fleet.accounts
        for region in a.regions
        if (not accounts or a.name in accounts) and (not regions or region in regions)
    )


def run(
    manifests: Path,
    fleet: Fleet,
    places: Sequence[Place],
    iot_for: Callable[[Place], Any],
    settings: Settings,
    things: bool,
    say: Callable[[str], None],
    now: datetime.datetime | None = None,
) -> Outcome:
    """Read, decide and write. fleet.aws.errors.AwsError: a place could not be read (nothing written yet),
    or AWS failed while PEMs were fetched (those fetched are kept; run it again to finish)."""
    with ThreadPoolExecutor(max_workers=min(8, len(places)) or 1) as pool:
        estates = list(pool.map(lambda place: estate.read(place, iot_for(place), say), places))

    def fetch(jobs: Mapping[Place, list[fetching.Job]]) -> fetching.Fetched:
        return fetching.fetch(manifests, jobs, iot_for, settings.rate, settings.progress_seconds, say)

    outcome, steps = prepare(manifests, fleet, estates, fetch, things, now)
    outcome.changed = writing.apply(manifests, fleet, steps)
    return outcome


def prepare(
    manifests: Path,
    fleet: Fleet,
    estates: list[PlaceEstate],
    fetch: Callable[[Mapping[Place, list[fetching.Job]]], fetching.Fetched],
    things: bool,
    now: datetime.datetime | None = None,
) -> tuple[Outcome, list[plan.Step]]:
    """Everything but reading the places and writing: the decisions, and the steps that write them."""
    now = now or datetime.datetime.now(datetime.UTC)
    declared = existing.read(manifests, fleet)
    cas = ca_decisions.decide(estates, declared, now)
    policies = policy_decisions.decide(estates, declared)
    classified = certificates.classify(estates, declared, cas, policies, things)
    fetched = fetch(classified.jobs)
    grouped = certificates.group(classified, fetched, cas, declared, things, now)
    steps = plan.steps(declared, cas.imported, policies.imported, grouped.groups, grouped.batches, fetched.pems)
    notes = [*cas.notes, *policies.notes, *classified.notes, *grouped.notes, *_fetch_notes(fetched)]
    return Outcome(estates, cas, policies, grouped, [], sorted(notes), fetched.calls), steps


def _fetch_notes(fetched: fetching.Fetched) -> list[Note]:
    notes = [
        Note(LEFT_OUT, f"certificate {fp}", f"AWS gave a PEM fleet cannot read ({why})", place.label)
        for place, fp, why in fetched.unreadable
    ]
    notes += [
        Note(LEFT_OUT, f"certificate {fp}", "deleted in AWS since it was listed", place.label)
        for place, fp in fetched.gone
    ]
    return notes
