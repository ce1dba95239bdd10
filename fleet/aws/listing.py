"""What AWS has in one account and region, read with list calls (250 a page)
on first use and kept: every resource of that account and region reads from
the same listing, so a refresh costs one listing per account and region
however many resources there are.

``Listings`` keeps one ``PlaceListing`` per account and region for the
provider process, and drops it as soon as this process writes there: a
listing never outlives a change fleet itself made. Converging and verifying
always list afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleet.aws.ca import CaCertificates, CaState
from fleet.aws.certificates import Certificates, CertificateSummary
from fleet.aws.policies import Policies, PolicyState


@dataclass(frozen=True)
class PolicyListing:
    state: PolicyState | None  # None: no such policy
    versions: list[tuple[int, bool]]  # (version id, is default), oldest first
    targets: frozenset[str]  # ARNs of every principal it is attached to


class PlaceListing:
    """Lazily listed, thread-safe: each listing is made once, by whichever reader asks first."""

    def __init__(self, iot: Any, where: str):
        self.where = where
        self._certificates = Certificates(iot, where)
        self._cas = CaCertificates(iot, where)
        self._policies = Policies(iot, where)
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._values: dict[tuple[str, str], Any] = {}

    def certificates(self) -> dict[str, CertificateSummary]:
        """Every certificate registered here, by id."""
        found: dict[str, CertificateSummary] = self._once(
            ("certificates", ""), lambda: {c.certificate_id: c for c in self._certificates.list()})
        return found

    def under_ca(self, ca_id: str) -> dict[str, CertificateSummary]:
        """The certificates registered under one CA, by id."""
        found: dict[str, CertificateSummary] = self._once(
            ("under_ca", ca_id), lambda: {c.certificate_id: c for c in self._certificates.list(ca_id)})
        return found

    def ca(self, ca_id: str) -> CaState | None:
        found: CaState | None = self._once(("ca", ca_id), lambda: self._cas.describe(ca_id))
        return found

    def policy(self, name: str) -> PolicyListing:
        found: PolicyListing = self._once(("policy", name), lambda: PolicyListing(
            self._policies.get(name), self._policies.versions(name), frozenset(self._certificates.targets_of(name))))
        return found

    def things_of(self, arn: str) -> tuple[str, ...]:
        """The things a certificate is attached to: one call per certificate (AWS IoT lists
        thing attachments per principal or per thing only), made only for groups that
        attach their certificates to things."""
        found: tuple[str, ...] = self._once(("things", arn), lambda: tuple(self._certificates.things_of(arn)))
        return found

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


class Listings:
    """One listing per account and region, until this process writes there."""

    def __init__(self, iot_for: Callable[[str, str, str], Any], writes: Callable[[str, str], int]):
        self._iot_for = iot_for  # (role ARN, account id, region) -> IoT client
        self._writes = writes  # (account id, region) -> writes this process sent there
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, str], tuple[int, PlaceListing]] = {}

    def of(self, role_arn: str, account_id: str, region: str, where: str) -> PlaceListing:
        generation = self._writes(account_id, region)
        with self._lock:
            kept = self._kept.get((account_id, region))
            if kept is None or kept[0] != generation:
                kept = (generation, PlaceListing(self._iot_for(role_arn, account_id, region), where))
                self._kept[(account_id, region)] = kept
            return kept[1]
