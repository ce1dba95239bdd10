"""The device-certificate resource: the certificates of one account and region
whose fingerprint starts with one hex digit (fleet.model.declarations), by group.

read reports what AWS has in the declaration's shape (fleet.model.observe) from the
one listing of its account and region that every resource of the refresh
shares, keeping every revocation the state recorded (``{"status": "ABSENT",
"was_revoked": true}`` where AWS lost one: every `pulumi up` refreshes first). create and update
converge: they read what they are about to change (one listing of the account
and region that every resource there shares, or per-certificate reads when the
place's change is small, whichever costs fewer calls; statuses alone where no
certificate read is to be usable),
register what is missing (REVOKED included: AWS keeps the record), set
statuses, attach and detach the fleet's policies, retire what the manifests
dropped (deactivate, detach, delete; a revoked certificate stays, revoked),
then read again what they changed (by a listing begun after their writes, or
one by one) and succeed only if AWS holds it. A
certificate REVOKED in AWS or in the recorded state is never set to another
status: check refuses at preview (the recorded inputs; the program's guard
has refused already what AWS and every stack's recorded outputs hold), and
every write path checks again, against the recorded outputs and AWS, before
it writes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet.aws.ca import CaCertificates
from fleet.aws.certificates import Certificates, CertificateSummary
from fleet.aws.listing import cheaper_one_by_one
from fleet.aws.status import CertificateStatus
from fleet.crypto import pki
from fleet.manifest.ledger_rules import refusal
from fleet.model import observe
from fleet.model.declarations import (
    ABSENT,
    CERTIFICATES_SPEC,
    USABLE,
    Entry,
    GroupInputs,
    ShardInputs,
)
from fleet.progress import Progress
from fleet.providers.failures import checked, fail, reported
from fleet.providers.pulumi_compat import READ_TAKES_INPUTS
from fleet.providers.registry import REGISTRY
from fleet.providers.resource import FleetResource, diff_result, read_result, stored
from fleet.providers.target import iot_client, listing, listings
from fleet.settings import Settings

KIND = "certificate"


class DeviceCertificatesProvider(ResourceProvider):
    @checked
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        declared = ShardInputs.of(news)
        REGISTRY.claim(KIND, declared.place, declared.declared(), declared.resource_name)
        # olds: the inputs recorded (what the last run declared; what the last refresh read where
        # reads return inputs). Empty for a resource the state does not hold yet.
        had = ShardInputs.of(olds) if olds else None
        note_change(declared, had)
        return reactivations(had, declared)

    @reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = ShardInputs.of(props)
        return CreateResult(declared.resource_name, Converge(declared, None).run())

    @reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        recorded = ShardInputs.of(props)
        return read_result(id_, remembering_revocations(observe.shard(listing(recorded), recorded), recorded).props())

    @reported
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        had, want = ShardInputs.of(olds), ShardInputs.of(news)
        if not READ_TAKES_INPUTS and REGISTRY.declared(want.resource_name):
            # olds: the recorded outputs. Where reads return no inputs (3.79; < 3.216), check sees the last
            # declaration only, not what a refresh recorded: refused here too, for what the program declares.
            # Elsewhere diff only compares: newer engines (3.259 and 3.274 here) diff while refreshing, before
            # the program, the recorded inputs against what AWS has (a revocation by hand the manifests may
            # have adopted since); the check and the program's guard refuse after.
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
        mine = [
            fp
            for fp, (_, group) in recorded.declared().items()
            if recorded.owns(group) and not REGISTRY.claimed_elsewhere(KIND, recorded.place, fp, recorded.resource_name)
        ]
        if not mine:
            return
        api = Certificates(iot_client(recorded), recorded.where)
        live = Live.read(api, recorded, mine, attachments=False, before_writes=True)
        for fp in mine:
            if fp in live.certificates:
                with _stamped(api, recorded, fp):
                    api.retire(live.certificates[fp])


class DeviceCertificates(FleetResource, module="fleet", name=CERTIFICATES_SPEC.name):
    def __init__(self, declared: ShardInputs, opts: ResourceOptions | None = None):
        super().__init__(DeviceCertificatesProvider(), declared.resource_name, declared.props(), opts)


def note_change(want: ShardInputs, had: ShardInputs | None) -> None:
    """What this resource is about to change, noted for its account and region: a write's first
    read is chosen for the place as a whole (the shards of a place share one listing)."""
    todo, removed = want.work(had)
    listings().note_change(
        want.account_id, want.region, want.resource_name, len(todo) + len(removed), len(want.declared())
    )


@contextmanager
def _stamped(api: Certificates, shard: ShardInputs, fp: str) -> Iterator[None]:
    """Whatever is written about ``fp`` inside, once it ended (answered, failed or lost): no read
    of it is served by a listing begun before (fleet.aws.listing)."""
    before = api.writes
    try:
        yield
    finally:
        if api.writes != before:
            listings().wrote(shard.account_id, shard.region, (fp,))


def remembering_revocations(observed: ShardInputs, recorded: ShardInputs) -> ShardInputs:
    """What a refresh reports, without forgetting a revocation the state recorded: a
    certificate deleted or registered again behind the state's back reads ``{"status":
    "ABSENT", "was_revoked": true}`` (or ``"ACTIVE"``, remembered so), so the state still refuses its reactivation
    (here and in fleet.revocation.state_records) and `pulumi up` registers or revokes it again."""
    groups = {
        name: replace(
            group,
            certificates={
                fp: Entry.read(text).remembering(Entry.read(recorded.groups[name].certificates[fp])).stored()
                for fp, text in group.certificates.items()
            },
        )
        for name, group in observed.groups.items()
    }
    return replace(observed, groups=groups)


def reactivations(
    had: ShardInputs | None, want: ShardInputs, live: dict[str, CertificateSummary] | None = None
) -> list[str]:
    """Why each certificate the recorded state or AWS has REVOKED and the declaration wants usable is
    refused. ``want`` may be a refresh's reading (the engine diffs one against the inputs a run
    recorded): one that still remembers the revocation (``was_revoked``) reactivates nothing."""
    recorded = had.declared() if had is not None else {}
    found = []
    for fp, (value, group) in sorted(want.declared().items()):
        wanted = Entry.read(value)
        if wanted.revoked:
            continue
        was = recorded.get(fp)
        in_aws = (live or {}).get(fp)
        if (was is not None and Entry.read(was[0]).revoked) or (
            in_aws is not None and in_aws.status == CertificateStatus.REVOKED
        ):
            found.append(
                refusal(
                    fp,
                    {
                        "status": wanted.text(),
                        "file": f"group {_group_name(want, group)}",
                        "source": group.source,
                    },
                    want.where,
                    None,
                )
            )
    return found


def refuse_reactivation(
    had: ShardInputs | None, want: ShardInputs, live: dict[str, CertificateSummary] | None = None
) -> None:
    """Before a write: nothing is written when any certificate would be reactivated."""
    found = reactivations(had, want, live)
    if found:
        more = f" (and {len(found) - 1} more certificates)" if len(found) > 1 else ""
        fail(found[0] + more)


def _group_name(shard: ShardInputs, group: GroupInputs) -> str:
    return next(name for name, g in shard.groups.items() if g is group)


@dataclass
class Live:
    """What AWS has for some certificates of one shard: status and ARN, and the
    fleet policies attached to each."""

    certificates: dict[str, CertificateSummary]
    attached: dict[str, set[str]]  # fingerprint -> fleet policies attached

    @classmethod
    def read(
        cls,
        api: Certificates,
        shard: ShardInputs,
        fingerprints: Iterable[str],
        *,
        attachments: bool = True,
        before_writes: bool = False,
    ) -> Live:
        """By a listing of the account and region, or by per-certificate reads when that costs
        fewer calls (a small change in a large fleet). A listing kept for the place serves when
        it began after this process last wrote any of these certificates. Otherwise the choice
        is the place's before any write (``before_writes``: the listing made then serves every
        resource of the place, each reading what it alone writes), this resource's after
        (a listing begun after its writes serves it alone). ``attachments`` False: statuses
        only (no certificate read is to be usable: revoked, deactivated, retired)."""
        wanted = set(fingerprints)
        if not wanted:
            return cls({}, {})
        reads = listings()
        noted_change, noted_held = reads.change(shard.account_id, shard.region)
        held = max(noted_held, 16 * len(shard.declared()), len(wanted))  # shards: even slices of the fingerprints
        change = max(noted_change, len(wanted)) if before_writes else len(wanted)
        make = not cheaper_one_by_one(change, held, len(shard.policies), attachments)
        place = reads.converging(shard.role_arn, shard.account_id, shard.region, shard.where, wanted, make)
        if place is None:
            certificates: dict[str, CertificateSummary] = {}
            attached: dict[str, set[str]] = {}
            for fp in sorted(wanted):
                found = api.summary(fp)
                if found is not None:
                    certificates[fp] = found
                    if attachments:
                        attached[fp] = set(api.attached_policies(found.arn)) & set(shard.policies)
            return cls(certificates, attached)
        everything = place.certificates()
        certificates = {fp: everything[fp] for fp in wanted if fp in everything}
        if not attachments:
            return cls(certificates, {})
        targets = {p: place.policy(p).targets for p in shard.policies}
        return cls(
            certificates, {fp: {p for p, arns in targets.items() if c.arn in arns} for fp, c in certificates.items()}
        )

    def entry(self, fp: str, group: GroupInputs) -> Entry:
        live = self.certificates.get(fp)
        if live is None:
            return Entry(ABSENT)
        if live.status not in USABLE:
            return Entry(live.status)
        have = self.attached.get(fp, set())
        return Entry(
            live.status, tuple(p for p in group.policies if p not in have), tuple(sorted(have - set(group.policies)))
        )


class Converge:
    """Bring one shard to its declaration; ``had``: what the state recorded (None on create)."""

    def __init__(self, want: ShardInputs, had: ShardInputs | None):
        self.want = want
        self.had = had
        self.api = Certificates(iot_client(want), want.where)
        # What may need a change: everything on create; else what the declaration or the record changed.
        self.todo, self.removed = want.work(had)
        note_change(want, had)  # the update's own olds: what a refresh recorded, where check saw the inputs
        # Fleet policies attached by hand to what nothing declares: detached. Not one declared now (the
        # just-in-time function activated it with its policies; auto_activation takes it in).
        declared = want.declared()
        read = {fp: Entry.read(value) for fp, value in (had.unlisted if had is not None else {}).items()}
        self.unlisted = {fp: entry for fp, entry in read.items() if entry.extra and fp not in declared}

    def run(self) -> dict[str, Any]:
        everything = self.todo | self.removed | set(self.unlisted)
        live = self._read(everything, before_writes=True)
        refuse_reactivation(self.had, self.want, live.certificates)
        self._apply(live, everything)
        wrong = self._wrong(self._read(everything), everything)
        if wrong:  # a second try at what AWS does not hold, then a last look
            self._apply(self._read(set(wrong)), set(wrong))
            wrong = self._wrong(self._read(set(wrong)), set(wrong))
        if not wrong:
            return self.want.props()
        listed = "; ".join(f"{fp[:16]}… {why}" for fp, why in sorted(wrong.items())[:10])
        more = f"; and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        fail(
            f"certificates in {self.want.where} (shard {self.want.shard}): AWS does not hold what was written, "
            f"even after a second try: {listed}{more}"
        )

    def _read(self, fingerprints: set[str], before_writes: bool = False) -> Live:
        """Policies are read only where a certificate is to be usable, or holds one attached by hand."""
        declared = self.want.declared()
        attachments = any(declared[fp][0] in USABLE for fp in self.todo & fingerprints) or bool(
            set(self.unlisted) & fingerprints
        )
        return Live.read(self.api, self.want, fingerprints, attachments=attachments, before_writes=before_writes)

    def _apply(self, live: Live, fingerprints: set[str]) -> None:
        declared = self.want.declared()
        todo, removed = sorted(self.todo & fingerprints), sorted(self.removed & fingerprints)
        progress = Progress(self.want.resource_name, len(todo) + len(removed), Settings.from_env().progress_seconds)
        for fp in todo:
            value, group = declared[fp]
            with _stamped(self.api, self.want, fp):
                self._one(fp, Entry.read(value).status, group, live)  # declared: the status alone
            progress.step()
        for fp in removed:
            if fp in live.certificates:
                with _stamped(self.api, self.want, fp):
                    self.api.retire(live.certificates[fp])
            progress.step()
        for fp in sorted(set(self.unlisted) & fingerprints):
            arn = _arn(self.want, fp)
            with _stamped(self.api, self.want, fp):
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
        return recorded is None or recorded[1].state() != group.state() or Entry.read(recorded[0]).thingless

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
            entry = live.entry(fp, group)
            if entry.stored() != status:
                wrong[fp] = f"AWS has {entry.text()}, declared {status}"
        for fp in self.removed & fingerprints:
            have = live.certificates.get(fp)
            if have is not None and have.status != CertificateStatus.REVOKED:
                wrong[fp] = f"still registered ({have.status}) after it was removed"
        for fp in set(self.unlisted) & fingerprints:
            still = live.attached.get(fp, set()) & set(self.unlisted[fp].extra)
            if still:
                wrong[fp] = f"still holds {', '.join(sorted(still))}, attached by hand"
        return wrong


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
