"""What AWS has in one account and region, read with list calls (250 a page)
on first use and kept: every resource of that account and region reads from
the same listing, so a refresh costs one listing per account and region
however many resources there are.

``Listings`` keeps one ``PlaceListing`` per account and region for the
provider process, and drops it as soon as this process writes there: a
listing never outlives a change fleet itself made. Converging and verifying
always list afresh. ``FewCertificates`` answers the same questions about a
few certificates, read one by one, where that costs fewer calls
(``cheaper_one_by_one``).
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


def cheaper_one_by_one(wanted: int, held: int, policies: int) -> bool:
    """Whether reading ``wanted`` certificates one by one (a describe and a listing of
    its policies each) costs fewer calls than listing the place (every certificate, and
    the targets of each of its ``policies`` fleet policies); ``held``: the certificates
    the place holds, as far as fleet knows. A small change in a large fleet reads one by
    one, a large one lists."""
    return 2 * wanted <= (1 + policies) * max(1, math.ceil(held / PAGE))


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
    answering about them what a PlaceListing answers (fleet.observe reads either):
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
