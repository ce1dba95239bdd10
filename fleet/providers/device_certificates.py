"""The device-certificate resource: the certificates of one account and region
whose fingerprint starts with one hex digit (fleet.declarations), by group.

read reports what AWS has in the declaration's shape (fleet.observe) from the
one listing of its account and region that every resource of the refresh
shares. create and update converge: they read what they are about to change
(one listing, or per-certificate reads when the change is small, whichever
costs fewer calls), register what is missing (REVOKED included: AWS keeps the
record), set statuses, attach and detach the fleet's policies, retire what
the manifests dropped (deactivate, detach, delete; a revoked certificate
stays, revoked), then read again what they changed and succeed only if AWS
holds it. A certificate REVOKED in AWS or in the recorded state is never set
to another status: diff refuses at preview, and every write path checks again.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet import observe, pki
from fleet.aws.ca import CaCertificates
from fleet.aws.certificates import Certificates, CertificateSummary
from fleet.declarations import (
    ABSENT,
    CERTIFICATES_SPEC,
    USABLE,
    Entry,
    GroupInputs,
    ShardInputs,
)
from fleet.progress import Progress
from fleet.providers.failures import fail, reported
from fleet.providers.registry import REGISTRY
from fleet.providers.resource import FleetResource, diff_result, read_result, stored
from fleet.providers.target import iot_client, listing
from fleet.revocation import refusal
from fleet.settings import Settings

KIND = "certificate"
PAGE = 250


class DeviceCertificatesProvider(ResourceProvider):
    @reported
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        declared = ShardInputs.of(news)
        REGISTRY.claim(KIND, declared.place, declared.declared(), declared.resource_name)
        return CheckResult(news, [])

    @reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = ShardInputs.of(props)
        return CreateResult(declared.resource_name, Converge(declared, None).run())

    @reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        recorded = ShardInputs.of(props)
        return read_result(id_, observe.shard(listing(recorded), recorded).props())

    @reported
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        had, want = ShardInputs.of(olds), ShardInputs.of(news)
        refuse_reactivation(had, want)
        replaces = CERTIFICATES_SPEC.replaces(stored(olds), stored(news))
        return diff_result(bool(replaces) or had != want, replaces)

    @reported
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        had, want = ShardInputs.of(olds), ShardInputs.of(news)
        refuse_reactivation(had, want)
        return UpdateResult(Converge(want, had).run())

    @reported
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        recorded = ShardInputs.of(props)
        if REGISTRY.handed_over(recorded.place):
            return  # another stack manages this account and region now
        mine = [fp for fp, (_, group) in recorded.declared().items() if owned(recorded, group)
                and not REGISTRY.claimed_elsewhere(KIND, recorded.place, fp, recorded.resource_name)]
        if not mine:
            return
        api = Certificates(iot_client(recorded), recorded.where)
        live = Live.read(api, recorded, mine)
        for fp in mine:
            if fp in live.certificates:
                api.retire(live.certificates[fp])


class DeviceCertificates(FleetResource, module="fleet", name=CERTIFICATES_SPEC.name):
    def __init__(self, declared: ShardInputs, opts: ResourceOptions | None = None):
        super().__init__(DeviceCertificatesProvider(), declared.resource_name, declared.props(), opts)


def owned(shard: ShardInputs, group: GroupInputs) -> bool:
    """Whether fleet removes the certificate from AWS when nothing declares it
    any more: those of manifest groups. Those auto_activation took in stay
    (they are devices in use); the ledger's are REVOKED and stay anyway."""
    return any(g is group and ":" not in name and name != "ledger" for name, g in shard.groups.items())


def refuse_reactivation(had: ShardInputs | None, want: ShardInputs, live: dict[str, CertificateSummary] | None = None
                        ) -> None:
    """A certificate the recorded state or AWS has REVOKED is never declared usable."""
    recorded = had.declared() if had is not None else {}
    for fp, (status, group) in sorted(want.declared().items()):
        if status == "REVOKED":
            continue
        was = recorded.get(fp)
        in_aws = (live or {}).get(fp)
        if (was is not None and Entry.decode(was[0]).status == "REVOKED") or (
                in_aws is not None and in_aws.status == "REVOKED"):
            fail(refusal(fp, {"status": status, "file": f"group {_group_name(want, group)}",
                              "source": group.source}, want.where, None))


def _group_name(shard: ShardInputs, group: GroupInputs) -> str:
    return next(name for name, g in shard.groups.items() if g is group)


@dataclass
class Live:
    """What AWS has for some certificates of one shard: status and ARN, and the
    fleet policies attached to each."""

    certificates: dict[str, CertificateSummary]
    attached: dict[str, set[str]]  # fingerprint -> fleet policies attached

    @classmethod
    def read(cls, api: Certificates, shard: ShardInputs, fingerprints: Iterable[str]) -> Live:
        """By one listing of the account and region, or by per-certificate reads
        when that costs fewer calls (a small change in a large fleet)."""
        wanted = set(fingerprints)
        per_certificate = 2 * len(wanted)
        estimate = 16 * max(len(shard.declared()), len(wanted))  # shards are even slices of the fingerprints
        by_listing = (1 + len(shard.policies)) * max(1, math.ceil(estimate / PAGE))
        if per_certificate <= by_listing:
            certificates: dict[str, CertificateSummary] = {}
            attached: dict[str, set[str]] = {}
            for fp in sorted(wanted):
                found = api.summary(fp)
                if found is not None:
                    certificates[fp] = found
                    attached[fp] = set(api.attached_policies(found.arn)) & set(shard.policies)
            return cls(certificates, attached)
        place = listing(shard)  # the process's listing of the place, unless a write made it stale
        everything = place.certificates()
        targets = {p: place.policy(p).targets for p in shard.policies}
        certificates = {fp: everything[fp] for fp in wanted if fp in everything}
        return cls(certificates, {fp: {p for p, arns in targets.items() if c.arn in arns}
                                  for fp, c in certificates.items()})

    def entry(self, fp: str, group: GroupInputs) -> Entry:
        live = self.certificates.get(fp)
        if live is None:
            return Entry(ABSENT)
        if live.status not in USABLE:
            return Entry(live.status)
        have = self.attached.get(fp, set())
        return Entry(live.status, tuple(p for p in group.policies if p not in have),
                     tuple(sorted(have - set(group.policies))))


class Converge:
    """Bring one shard to its declaration; ``had``: what the state recorded (None on create)."""

    def __init__(self, want: ShardInputs, had: ShardInputs | None):
        self.want = want
        self.had = had
        self.api = Certificates(iot_client(want), want.where)
        declared, recorded = want.declared(), (had.declared() if had is not None else {})
        # What may need a change: everything on create; else what the declaration or the record changed.
        self.todo = {fp for fp, (status, group) in declared.items()
                     if had is None or fp not in recorded or recorded[fp][0] != status
                     or _group_state(recorded[fp][1]) != _group_state(group)}
        self.removed = {fp for fp, (_, group) in recorded.items() if fp not in declared and owned(had, group)} \
            if had is not None else set()
        # Fleet policies attached by hand to what nothing declares: detached. Not one declared now (the
        # just-in-time function activated it with its policies; auto_activation takes it in).
        self.unlisted = {fp: Entry.decode(text) for fp, text in (had.unlisted if had is not None else {}).items()
                         if Entry.decode(text).extra and fp not in declared}

    def run(self) -> dict[str, Any]:
        everything = self.todo | self.removed | set(self.unlisted)
        live = Live.read(self.api, self.want, everything)
        refuse_reactivation(self.had, self.want, live.certificates)
        self._apply(live, everything)
        wrong = self._wrong(Live.read(self.api, self.want, everything), everything)
        if wrong:  # a second try at what AWS does not hold, then a last look
            self._apply(Live.read(self.api, self.want, set(wrong)), set(wrong))
            wrong = self._wrong(Live.read(self.api, self.want, set(wrong)), set(wrong))
        if not wrong:
            return self.want.props()
        listed = "; ".join(f"{fp[:16]}… {why}" for fp, why in sorted(wrong.items())[:10])
        more = f"; and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        fail(f"certificates in {self.want.where} (shard {self.want.shard}): AWS does not hold what was written, "
             f"even after a second try: {listed}{more}")

    def _apply(self, live: Live, fingerprints: set[str]) -> None:
        declared = self.want.declared()
        todo, removed = sorted(self.todo & fingerprints), sorted(self.removed & fingerprints)
        progress = Progress(self.want.resource_name, len(todo) + len(removed), Settings.from_env().progress_seconds)
        for fp in todo:
            status, group = declared[fp]
            self._one(fp, status, group, live)
            progress.step()
        for fp in removed:
            if fp in live.certificates:
                self.api.retire(live.certificates[fp])
            progress.step()
        for fp in sorted(set(self.unlisted) & fingerprints):
            arn = _arn(self.want, fp)
            for policy in self.unlisted[fp].extra:
                self.api.detach(policy, arn)

    def _one(self, fp: str, status: str, group: GroupInputs, live: Live) -> None:
        have = live.certificates.get(fp)
        if have is None:
            pem = pem_for(fp, group.pem)
            if pem is None:
                fail(f"certificate {fp} of {group.source}: no PEM file with this fingerprint under {group.pem}")
            have = self.api.register(fp, pem, self._ca_pem(group.ca_id), status)
            live.certificates[fp], live.attached[fp] = have, set()
            if group.things == "common-name" and status in USABLE:
                self._attach_thing(fp, pem, have)
        elif group.things == "common-name" and status in USABLE and self._may_lack_its_thing(fp, group):
            pem = pem_for(fp, group.pem)
            if pem is not None and not self.api.things_of(have.arn):  # one read saves two writes
                self._attach_thing(fp, pem, have)
        wanted = live.entry(fp, group)
        if status in USABLE:
            for policy in wanted.missing:  # policies first: a device activated has what it needs
                self.api.attach(policy, have.arn)
            for policy in wanted.extra:
                self.api.detach(policy, have.arn)
        if have.status != status:
            self.api.set_status(fp, status)

    def _may_lack_its_thing(self, fp: str, group: GroupInputs) -> bool:
        """Adopted from AWS, its group started attaching things, or a refresh found it attached to none."""
        recorded = self.had.declared().get(fp) if self.had is not None else None
        return recorded is None or _group_state(recorded[1]) != _group_state(group) or \
            Entry.decode(recorded[0]).thingless

    def _attach_thing(self, fp: str, pem: str, have: CertificateSummary) -> None:
        thing = pki.common_name(pki.load_certificate(pem.encode()))
        if thing:
            self.api.attach_thing(thing, have.arn)

    @functools.cache  # noqa: B019 (one Converge per step)
    def _ca_pem(self, ca_id: str | None) -> str | None:
        return None if ca_id is None else CaCertificates(self.api.client, self.want.where).pem(ca_id)

    def _wrong(self, live: Live, fingerprints: set[str]) -> dict[str, str]:
        """What AWS does not hold yet: fingerprint -> what it has instead."""
        declared = self.want.declared()
        wrong = {}
        for fp in self.todo & fingerprints:
            status, group = declared[fp]
            entry = live.entry(fp, group).encode()
            if entry != status:
                wrong[fp] = f"AWS has {entry}, declared {status}"
        for fp in self.removed & fingerprints:
            have = live.certificates.get(fp)
            if have is not None and have.status != "REVOKED":
                wrong[fp] = f"still registered ({have.status}) after it was removed"
        for fp in set(self.unlisted) & fingerprints:
            still = live.attached.get(fp, set()) & set(self.unlisted[fp].extra)
            if still:
                wrong[fp] = f"still holds {', '.join(sorted(still))}, attached by hand"
        return wrong


def _group_state(group: GroupInputs) -> tuple[Any, ...]:
    """What of a group changes its certificates in AWS."""
    return tuple(sorted(group.policies)), group.things, group.ca_id


def _arn(shard: ShardInputs, fp: str) -> str:
    partition = shard.role_arn.split(":")[1]
    return f"arn:{partition}:iot:{shard.region}:{shard.account_id}:cert/{fp}"


def pem_for(fingerprint: str, path: str) -> str | None:
    """The PEM with this fingerprint under ``path`` (a PEM file, or a folder of
    *.pem files, where ``<fingerprint>.pem`` is looked at first)."""
    location = Path(path)
    named = location / f"{fingerprint}.pem"
    if location.is_dir() and named.is_file():
        text = named.read_text(encoding="utf-8")
        if _fingerprints(text) == {fingerprint}:
            return text
    return _by_fingerprint(str(location.resolve()), _stamp(location)).get(fingerprint)


def _stamp(location: Path) -> float:
    try:
        return location.stat().st_mtime
    except OSError:
        return 0.0


@functools.lru_cache(maxsize=64)
def _by_fingerprint(path: str, _stamp: float) -> dict[str, str]:
    """Every PEM certificate under ``path``, by fingerprint (read once per process and change)."""
    location = Path(path)
    files = sorted(location.glob("*.pem")) if location.is_dir() else [location] if location.is_file() else []
    found: dict[str, str] = {}
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
            found[pki.certificate_id(pki.load_certificate(text.encode()))] = text
        except (OSError, UnicodeDecodeError, pki.CertificateError):
            continue  # fleet validate names it; here it only cannot be registered
    return found


def _fingerprints(text: str) -> set[str]:
    try:
        return {pki.certificate_id(pki.load_certificate(text.encode()))}
    except pki.CertificateError:
        return set()

