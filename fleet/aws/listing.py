"""What AWS has in one account and region, read with list calls (250 a page)
on first use and kept: every resource of that account and region reads from
the same listing, so a refresh costs one listing per account and region
however many resources there are.

``Listings`` keeps one ``PlaceListing`` per account and region for the
provider process. A refresh's read (``of``) drops it as soon as this process
writes there: a listing never outlives a change fleet itself made. A write's
reads (``converging``) ask less: that the listing began after this process
last wrote any of the certificates they read. The shards of a place write
disjoint certificates, so every shard reads what it is about to change from
the one listing of the place, and only what a shard itself wrote needs a
listing begun after its writes (or reading again one by one).
``FewCertificates`` answers the same questions about a few certificates,
read one by one, where that costs fewer calls (``cheaper_one_by_one``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fleet.aws.ca import CaCertificates, CaState
from fleet.aws.certificates import Certificates, CertificateSummary
from fleet.aws.policies import Policies, PolicyState

PAGE = 250  # what a list call returns at most (pageSize)


def cheaper_one_by_one(wanted: int, held: int, policies: int, attachments: bool = True) -> bool:
    """Whether reading ``wanted`` certificates one by one (a describe and a listing of
    its policies each) costs fewer calls than listing the place (every certificate, and
    the targets of each of its ``policies`` fleet policies); ``held``: the certificates
    the place holds, as far as fleet knows. A small change in a large fleet reads one by
    one, a large one lists. ``attachments`` False: only statuses are wanted (a certificate
    to be revoked or retired), so neither its policies nor the policies' targets are read."""
    pages = max(1, math.ceil(held / PAGE))
    if not attachments:
        return wanted <= pages
    return 2 * wanted <= (1 + policies) * pages


@dataclass(frozen=True)
class PolicyListing:
    state: PolicyState | None  # None: no such policy
    versions: list[tuple[int, bool]]  # (version id, is default), oldest first
    targets: frozenset[str]  # ARNs of every principal it is attached to


class PlaceListing:
    """Lazily listed, thread-safe: each listing is made once, by whichever reader asks first."""

    def __init__(self, iot: Any, where: str, begun: int = 0):
        self.where = where
        self.begun = begun  # the Listings clock when it was made: every page is read after that
        self._certificates = Certificates(iot, where)
        self._cas = CaCertificates(iot, where)
        self._policies = Policies(iot, where)
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._values: dict[tuple[str, str], Any] = {}

    def certificates(self) -> dict[str, CertificateSummary]:
        """Every certificate registered here, by id."""
        found: dict[str, CertificateSummary] = self._once(
            ("certificates", ""), lambda: {c.certificate_id: c for c in self._certificates.list()}
        )
        return found

    def under_ca(self, ca_id: str) -> dict[str, CertificateSummary]:
        """The certificates registered under one CA, by id."""
        found: dict[str, CertificateSummary] = self._once(
            ("under_ca", ca_id), lambda: {c.certificate_id: c for c in self._certificates.list(ca_id)}
        )
        return found

    def ca(self, ca_id: str) -> CaState | None:
        found: CaState | None = self._once(("ca", ca_id), lambda: self._cas.describe(ca_id))
        return found

    def policy(self, name: str) -> PolicyListing:
        found: PolicyListing = self._once(
            ("policy", name),
            lambda: PolicyListing(
                self._policies.get(name), self._policies.versions(name), frozenset(self._certificates.targets_of(name))
            ),
        )
        return found

    def things_of(self, arn: str) -> tuple[str, ...]:
        """The things a certificate is attached to: one call per certificate (AWS IoT lists
        thing attachments per principal or per thing only), made only for groups that
        attach their certificates to things."""
        found: tuple[str, ...] = self._once(("things", arn), lambda: tuple(self._certificates.things_of(arn)))
        return found

    def targets(self, policy: str) -> frozenset[str]:
        """ARNs of every principal the policy is attached to."""
        return self.policy(policy).targets

    def derived(self, name: str, make: Callable[[], Any]) -> Any:
        """What a reader computes from this listing, computed once: the 16 resources of an
        account and region each take their slice of one split, not a pass over everything."""
        return self._once(("derived", name), make)

    def _once(self, key: tuple[str, str], make: Callable[[], Any]) -> Any:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = make()
            return self._values[key]


class FewCertificates:
    """What AWS has of a few certificates of one account and region, read one by one,
    answering about them what a PlaceListing answers (fleet.model.observe reads either):
    for a look at a handful of certificates in a large fleet (`fleet review`)."""

    def __init__(self, iot: Any, where: str, fingerprints: Iterable[str]):
        self.where = where
        self._api = Certificates(iot, where)
        self._wanted = sorted(set(fingerprints))
        self._found: dict[str, CertificateSummary] | None = None
        self._attached: dict[str, frozenset[str]] = {}  # certificate ARN -> its policies

    def certificates(self) -> dict[str, CertificateSummary]:
        """The wanted certificates AWS has, by id."""
        if self._found is None:
            summaries = ((fp, self._api.summary(fp)) for fp in self._wanted)
            self._found = {fp: found for fp, found in summaries if found is not None}
        return self._found

    def targets(self, policy: str) -> frozenset[str]:
        """ARNs of the wanted certificates the policy is attached to."""
        for found in self.certificates().values():
            if found.arn not in self._attached:
                self._attached[found.arn] = frozenset(self._api.attached_policies(found.arn))
        return frozenset(arn for arn, policies in self._attached.items() if policy in policies)

    def things_of(self, arn: str) -> tuple[str, ...]:
        return tuple(self._api.things_of(arn))


class Listings:
    """One listing per account and region: a refresh's until this process writes there, a
    write's until this process writes one of the certificates it reads.

    Freshness is told by a clock of this process: a listing is stamped when it is made
    (its pages are all read later), a certificate when a write about it has ended (answered,
    failed or lost). A listing stamped after a certificate's last write shows that write, or
    AWS's later state; one stamped before may not. The provider runs several resources at
    once (4 threads): the checks happen under one lock, and a listing is made once, by
    whichever reader asks first."""

    def __init__(self, iot_for: Callable[[str, str, str], Any], writes: Callable[[str, str], int]):
        self._iot_for = iot_for  # (role ARN, account id, region) -> IoT client
        self._writes = writes  # (account id, region) -> writes this process sent there
        self._lock = threading.Lock()
        self._clock = 0
        self._kept: dict[tuple[str, str], tuple[int, PlaceListing]] = {}
        self._written: dict[tuple[str, str], dict[str, int]] = {}  # place -> certificate -> stamp of its last write
        self._changes: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}  # place -> resource -> (change, held)

    def of(self, role_arn: str, account_id: str, region: str, where: str) -> PlaceListing:
        generation = self._writes(account_id, region)
        with self._lock:
            kept = self._kept.get((account_id, region))
            if kept is None or kept[0] != generation:
                kept = (generation, self._make(role_arn, account_id, region, where))
                self._kept[(account_id, region)] = kept
            return kept[1]

    def converging(
        self, role_arn: str, account_id: str, region: str, where: str, certificates: Iterable[str], make: bool
    ) -> PlaceListing | None:
        """The place's listing when it began after this process last wrote any of
        ``certificates``; else a new one (kept for the place's other readers) when ``make``,
        else None (the caller reads them one by one)."""
        wanted = set(certificates)
        with self._lock:
            kept = self._kept.get((account_id, region))
            written = self._written.get((account_id, region), {})
            last = max((written.get(fp, -1) for fp in wanted), default=-1)
            if kept is not None and kept[1].begun > last:
                return kept[1]
            if not make:
                return None
            generation = self._writes(account_id, region)  # before it is made: the refresh's check stays safe
            made = self._make(role_arn, account_id, region, where)
            self._kept[(account_id, region)] = (generation, made)
            return made

    def wrote(self, account_id: str, region: str, certificates: Iterable[str]) -> None:
        """A write about each of ``certificates`` has ended (called once it answered, failed or was lost)."""
        with self._lock:
            self._clock += 1
            written = self._written.setdefault((account_id, region), {})
            for fp in certificates:
                written[fp] = self._clock

    def note_change(self, account_id: str, region: str, resource: str, change: int, held: int) -> None:
        """What one resource of the place is about to change, and how many certificates it holds
        (noted when the engine checks it): a write's reads are chosen for the place as a whole."""
        with self._lock:
            self._changes.setdefault((account_id, region), {})[resource] = (change, held)

    def change(self, account_id: str, region: str) -> tuple[int, int]:
        """(certificates the place's resources are about to change, certificates they hold), as noted."""
        with self._lock:
            noted = self._changes.get((account_id, region), {}).values()
            return sum(c for c, _ in noted), sum(h for _, h in noted)

    def _make(self, role_arn: str, account_id: str, region: str, where: str) -> PlaceListing:
        """Under the lock; the client is made first, the stamp last (a client may wait for STS)."""
        iot = self._iot_for(role_arn, account_id, region)
        self._clock += 1
        return PlaceListing(iot, where, self._clock)
