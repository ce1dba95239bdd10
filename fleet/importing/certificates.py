"""How each device certificate AWS has is declared.

Before the PEMs are fetched (``classify``): which certificates to declare,
which go into the revocation ledger (REVOKED), which wait for a decision
(PENDING_ACTIVATION, PENDING_TRANSFER, REGISTER_INACTIVE: reported, not
imported), which the manifests declare already (compared: a difference is a
conflict, left as the manifests say), and what to fetch for each.

After (``group``): the certificates to declare, in groups by CA, places,
policies and things, the most common status the group's and the others its
exceptions (a group whose exceptions would pass ``MAX_EXCEPTIONS`` is split
by status instead); what fleet validate would refuse is left out, said.
A certificate registered in several places goes into one group placed in
all of them, if it is registered alike in each (one CA, status and policies:
what a group declares); otherwise it is left out, said.
"""

from __future__ import annotations

import datetime
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from fleet.aws.status import CaStatus, CertificateStatus
from fleet.crypto import pki
from fleet.importing import cas as ca_decisions
from fleet.importing import policies as policy_decisions
from fleet.importing.estate import CertificateFound, Place, PlaceEstate
from fleet.importing.existing import Existing
from fleet.importing.fetching import PEM_NAME, Fetched, Job
from fleet.importing.names import slug, unique
from fleet.importing.notes import CONFLICT, FIRST_UP, LEFT_OUT, Note
from fleet.jitr.activation import decide
from fleet.manifest.desired import CertificateGroupSpec, DeviceCertificate
from fleet.model.declarations import USABLE
from fleet.revocation.ledger import Batch

REASON = "revoked in AWS before import"
PENDING = CertificateStatus.PENDING_ACTIVATION
MAX_EXCEPTIONS = 10_000  # a manifest file holds at most 250,000 values; an exception is 5 of them


@dataclass(frozen=True)
class Candidate:
    """A certificate to declare: registered alike (ACTIVE or INACTIVE) in each of its places."""

    fingerprint: str
    ca_id: str | None
    ca: str | None
    places: tuple[Place, ...]
    arns: tuple[str, ...]  # its ARN in each place
    status: str
    policies: tuple[str, ...]


@dataclass(frozen=True)
class Revoked:
    """A certificate REVOKED in AWS, for the revocation ledger where it does not record it yet."""

    fingerprint: str
    ca: str | None
    places: frozenset[tuple[str, str]]  # (account id, region)
    known_date: str | None  # the ledger's own date, when it records the certificate elsewhere already


@dataclass(frozen=True)
class Waiting:
    """A certificate waiting for a decision in one place: reported as `fleet pending` does, not imported."""

    place: Place
    fingerprint: str
    status: str
    ca_id: str | None
    ca_status: str  # the CA's status in AWS there ("" without a CA)


@dataclass
class Classified:
    candidates: list[Candidate] = field(default_factory=list)
    revoked: list[Revoked] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    jobs: dict[Place, list[Job]] = field(default_factory=dict)


def classify(
    estates: Iterable[PlaceEstate],
    existing: Existing,
    cas: ca_decisions.Decided,
    policies: policy_decisions.Decided,
    things: bool,
) -> Classified:
    estates = sorted(estates, key=lambda e: e.place)
    by_fp: dict[str, list[tuple[Place, CertificateFound]]] = defaultdict(list)
    for estate in estates:
        for fp, found in estate.certificates.items():
            by_fp[fp].append((estate.place, found))
    holders = {estate.place: _holders(estate, policies.fleet_policies) for estate in estates}
    ca_status = {(estate.place, ca_id): ca.state.status for estate in estates for ca_id, ca in estate.cas.items()}
    ca_ids = set(cas.pems) | set(existing.ca_names)
    ledger = existing.fleet.ledger
    result = Classified()
    jobs: dict[tuple[Place, str], Job] = {}

    def ask(place: Place, found: CertificateFound, **what: bool) -> None:
        had = jobs.get((place, found.certificate_id), Job(found.certificate_id, found.arn))
        jobs[(place, found.certificate_id)] = Job(
            had.fingerprint,
            had.arn,
            had.pem or what.get("pem", False),
            had.dated or what.get("dated", False),
            had.things or what.get("things", False),
        )

    for fp, entries in sorted(by_fp.items()):
        subject = f"certificate {fp}"
        if fp in ca_ids:
            result.notes.append(
                Note(LEFT_OUT, subject, "it is a CA certificate of the estate, registered as a device certificate too")
            )
            continue
        declared = existing.certificates.get(fp)
        if declared is not None:
            result.notes.extend(_compare(fp, entries, declared, holders))
            continue
        revoked = [(p, c) for p, c in entries if c.status == CertificateStatus.REVOKED]
        usable = [(p, c) for p, c in entries if c.status in USABLE]
        for place, found in entries:
            if found.status not in USABLE and found.status != CertificateStatus.REVOKED:
                result.waiting.append(
                    Waiting(place, fp, found.status, found.ca_id, ca_status.get((place, found.ca_id or ""), ""))
                )
                if found.status == PENDING and found.ca_id in cas.pems:
                    ask(place, found, pem=True)  # the decision reads it
        if revoked:
            known = ledger.revocations.get(fp)
            new = frozenset(p.key for p, _ in revoked if known is None or p.key not in known.places)
            if new:
                first_place, first = revoked[0]
                result.revoked.append(
                    Revoked(fp, cas.names.get(first.ca_id or ""), new, known.date if known is not None else None)
                )
                if known is None:
                    ask(first_place, first, pem=True, dated=True)
        if not usable:
            continue
        if revoked or ledger.revoked(fp):
            where = ", ".join(p.label for p, _ in revoked) or "the revocation ledger (or its history)"
            result.notes.append(
                Note(
                    FIRST_UP,
                    subject,
                    f"REVOKED in {where} and {usable[0][1].status} in "
                    f"{', '.join(p.label for p, _ in usable)}: `pulumi up` revokes "
                    "it there too (a revoked certificate is usable nowhere)",
                )
            )
            continue
        candidate, why = _candidate(fp, usable, cas, holders)
        if candidate is None:
            result.notes.append(Note(LEFT_OUT, subject, why))
            continue
        result.candidates.append(candidate)
        ask(usable[0][0], usable[0][1], pem=True)
        if things:
            for place, found in usable:
                ask(place, found, things=True)
    for (place, _), job in sorted(jobs.items(), key=lambda item: (item[0][0], item[0][1])):
        result.jobs.setdefault(place, []).append(job)
    return result


def _holders(estate: PlaceEstate, fleet_policies: frozenset[str]) -> dict[str, frozenset[str]]:
    """Certificate ARN -> the policies of the manifests attached to it, in one place (from ListTargetsForPolicy)."""
    found: dict[str, set[str]] = defaultdict(set)
    for name, policy in estate.policies.items():
        if name in fleet_policies:
            for arn in policy.targets:
                found[arn].add(name)
    return {arn: frozenset(names) for arn, names in found.items()}


def _candidate(
    fp: str,
    usable: list[tuple[Place, CertificateFound]],
    cas: ca_decisions.Decided,
    holders: Mapping[Place, Mapping[str, frozenset[str]]],
) -> tuple[Candidate | None, str]:
    for place, found in usable:
        if found.ca_id is None:
            continue
        if found.ca_id in cas.left_out:
            return None, f"{cas.left_out[found.ca_id]} ({place.label})"
        if (found.ca_id, place.account_id, place.region) not in cas.placed:
            return None, f"its CA is not placed in {place.label}"
    shapes = {
        (cas.names.get(found.ca_id or ""), found.status, tuple(sorted(holders[place].get(found.arn, frozenset()))))
        for place, found in usable
    }
    if len(shapes) > 1:
        said = "; ".join(
            f"{place.label}: {found.status}, CA {cas.names.get(found.ca_id or '') or 'none'}, policies "
            f"{', '.join(sorted(holders[place].get(found.arn, frozenset()))) or 'none'}"
            for place, found in usable
        )
        return None, (
            f"registered differently in its places ({said}), and a group declares one CA, status and "
            "policies wherever it is placed"
        )
    ((ca, status, attached),) = shapes
    ca_id = usable[0][1].ca_id
    return Candidate(fp, ca_id, ca, tuple(p for p, _ in usable), tuple(c.arn for _, c in usable), status, attached), ""


def _compare(
    fp: str,
    entries: list[tuple[Place, CertificateFound]],
    declared: list[tuple[CertificateGroupSpec, DeviceCertificate]],
    holders: Mapping[Place, Mapping[str, frozenset[str]]],
) -> list[Note]:
    """A certificate the manifests declare: where AWS differs, said (and left as the manifests say)."""
    subject = f"certificate {fp}"
    by_place = {(group.account_id, group.region): (group, cert) for group, cert in declared}
    notes = []
    for place, found in entries:
        here = by_place.get(place.key)
        if here is None:
            group = declared[0][0]
            notes.append(
                Note(
                    CONFLICT,
                    subject,
                    f"registered here ({found.status}) too, where its group {group.group} "
                    f"({group.source}) is not placed",
                    place.label,
                )
            )
            continue
        group, cert = here
        if found.status == CertificateStatus.REVOKED and cert.status in USABLE:
            notes.append(
                Note(
                    CONFLICT,
                    subject,
                    f"REVOKED in AWS, {cert.status} at {cert.source}: `fleet drift "
                    "--adopt-revocations` writes the revocation",
                    place.label,
                )
            )
        elif found.status != cert.status:
            notes.append(Note(CONFLICT, subject, f"{found.status} in AWS, {cert.status} at {cert.source}", place.label))
        if found.status in USABLE and cert.status in USABLE:
            attached = sorted(holders[place].get(found.arn, frozenset()))
            if attached != sorted(group.policies):
                notes.append(
                    Note(
                        CONFLICT,
                        subject,
                        f"policies {', '.join(attached) or 'none'} attached in AWS, "
                        f"{', '.join(group.policies) or 'none'} declared at "
                        f"{group.source}",
                        place.label,
                    )
                )
    return notes


# --- after the PEMs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    name: str
    ca: str | None
    places: tuple[Place, ...]
    policies: tuple[str, ...]
    things: str  # none | common-name
    status: str  # the most common one
    certificates: dict[str, str]  # fingerprint -> status, sorted


@dataclass(frozen=True)
class Pending:
    """A row of the report of certificates waiting for a decision, as `fleet pending` gives it."""

    ca: str
    place: Place
    fingerprint: str
    auto_activation: str  # on | off
    decision: str


@dataclass
class Grouped:
    groups: list[Group] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def group(
    classified: Classified,
    fetched: Fetched,
    cas: ca_decisions.Decided,
    existing: Existing,
    things: bool,
    now: datetime.datetime,
) -> Grouped:
    result = Grouped()
    ca_certs = _CaCertificates(cas.pems)
    crls = {p.certificate_id: p.crl_pem for p in existing.fleet.ca_placements if p.crl_pem}
    buckets: dict[tuple[str, tuple[Place, ...], tuple[str, ...], str], dict[str, str]] = defaultdict(dict)
    left: Counter[tuple[str, str]] = Counter()  # (why, place) -> certificates, for what is said in bulk
    for candidate in classified.candidates:
        cert, why = _read(candidate.fingerprint, fetched)
        if cert is None:
            if why:
                result.notes.append(Note(LEFT_OUT, f"certificate {candidate.fingerprint}", why))
            continue
        why = _refused(cert, candidate, ca_certs, crls, now)
        if why:
            result.notes.append(Note(LEFT_OUT, f"certificate {candidate.fingerprint}", why, candidate.places[0].label))
            continue
        mode = "none"
        if things:
            name = pki.common_name(cert)
            attached = [fetched.things.get((candidate.fingerprint, *p.key), ()) for p in candidate.places]
            if all(name in each for each in attached):
                mode = "common-name"
            elif any(attached):
                left[
                    (
                        "attached to things not named by their common name: declared with `things: none` (fleet "
                        "leaves those attachments alone)",
                        candidate.places[0].label,
                    )
                ] += 1
        key = (candidate.ca or "", candidate.places, candidate.policies, mode)
        buckets[key][candidate.fingerprint] = candidate.status
    for (why, place), count in sorted(left.items()):
        result.notes.append(Note(LEFT_OUT, f"{count:,} certificate(s)", why, place))
    result.groups = _named(_split(buckets), existing)
    result.batches = _batches(classified.revoked, fetched)
    result.pending = _pending(classified, fetched, cas, existing)
    return result


def _read(fp: str, fetched: Fetched) -> tuple[x509.Certificate | None, str]:
    path = fetched.pems.get(fp)
    if path is None:
        return None, ""  # unreadable or gone: fleet.importing.fetching said why
    try:
        cert = pki.load_certificate(path.read_bytes())
    except (OSError, pki.CertificateError) as error:
        return None, f"{path} cannot be read ({error}): delete it and import again"
    if pki.certificate_id(cert) != fp:
        return None, f"{path} holds another certificate: delete it and import again"
    return cert, ""


def _refused(
    cert: x509.Certificate,
    candidate: Candidate,
    ca_certs: _CaCertificates,
    crls: Mapping[str, str],
    now: datetime.datetime,
) -> str:
    """Why fleet validate would refuse the certificate in its group, or ""."""
    invalid = pki.validity_problem(cert, now)
    if invalid:
        return (
            f"it is {invalid}, and fleet validate refuses such a certificate: revoke it in AWS (the next import "
            "records the revocation) or delete it there"
        )
    if candidate.ca_id is not None:
        if not pki.signed_by(cert, ca_certs.get(candidate.ca_id)):
            return f"it is not signed by the CA it is registered under ({candidate.ca})"
        crl = crls.get(candidate.ca_id)
        if crl is not None and pki.on_crl(cert, pki.load_crl(crl.encode())):
            return f"it is on CA {candidate.ca}'s revocation list but {candidate.status} in AWS: revoke it there"
    return ""


class _CaCertificates:
    def __init__(self, pems: Mapping[str, str]):
        self._pems = pems
        self._parsed: dict[str, x509.Certificate] = {}

    def get(self, ca_id: str) -> x509.Certificate:
        if ca_id not in self._parsed:
            self._parsed[ca_id] = pki.load_certificate(self._pems[ca_id].encode())
        return self._parsed[ca_id]


Bucket = tuple[str, tuple[Place, ...], tuple[str, ...], str]


def _split(buckets: Mapping[Bucket, dict[str, str]]) -> list[tuple[Bucket, str, dict[str, str]]]:
    """(bucket, group status, certificates) per group to be, in a stable order: the largest first."""
    groups = []
    for key, members in buckets.items():
        counts = Counter(members.values())
        status = max(sorted(counts), key=lambda s: (counts[s], s == CertificateStatus.ACTIVE))
        if len(members) - counts[status] <= MAX_EXCEPTIONS:
            groups.append((key, status, dict(sorted(members.items()))))
            continue
        for each in sorted(counts):
            groups.append((key, each, {fp: s for fp, s in sorted(members.items()) if s == each}))
    return sorted(groups, key=lambda g: (-len(g[2]), g[0], g[1]))


def _named(groups: list[tuple[Bucket, str, dict[str, str]]], existing: Existing) -> list[Group]:
    taken = set(existing.group_names) | _foreign_folders(existing.manifests / "imported")
    named = []
    for (ca, places, policies, things), status, members in groups:
        name = unique(slug(_base(ca, places), "group"), taken)
        taken.add(name)
        named.append(Group(name, ca or None, places, policies, things, status, members))
    return named


def _base(ca: str, places: tuple[Place, ...]) -> str:
    who = ca or "no-ca"
    accounts, regions = sorted({p.account for p in places}), sorted({p.region for p in places})
    if len(places) == 1:
        return f"{who}-{places[0].account}-{places[0].region}"
    if len(accounts) == 1:
        return f"{who}-{accounts[0]}"
    if len(regions) == 1:
        return f"{who}-{regions[0]}"
    return f"{who}-shared"


def _foreign_folders(imported: Path) -> set[str]:
    """Folders under imported/ holding anything but the import's own <fingerprint>.pem files: names not to use."""
    if not imported.is_dir():
        return set()
    return {
        entry.name
        for entry in os.scandir(imported)
        if entry.is_dir() and any(not PEM_NAME.match(inner.name) for inner in os.scandir(entry.path))
    }


def _batches(revoked: list[Revoked], fetched: Fetched) -> list[Batch]:
    """The ledger's entries: one per date, CA and places, with a copy of each PEM at hand."""
    batches: dict[tuple[str, str, tuple[tuple[str, str], ...]], Batch] = {}
    for each in revoked:
        date = each.known_date or fetched.modified.get(each.fingerprint)
        if date is None:
            continue  # never described (gone since the listing): fleet.importing.fetching said so
        key = (date, each.ca or "", tuple(sorted(each.places)))
        batch = batches.setdefault(key, Batch(datetime.date.fromisoformat(date), REASON, each.ca, set(each.places)))
        path = fetched.pems.get(each.fingerprint)
        batch.certificates[each.fingerprint] = path.read_text(encoding="utf-8") if path is not None else None
    return [batches[key] for key in sorted(batches)]


def _pending(classified: Classified, fetched: Fetched, cas: ca_decisions.Decided, existing: Existing) -> list[Pending]:
    revoked = (
        {r.fingerprint for r in classified.revoked}
        | set(existing.fleet.ledger.revocations)
        | existing.fleet.ledger.history
    )
    declared = {(p.certificate_id, p.account_id, p.region): p for p in existing.fleet.ca_placements}
    rows = []
    for waiting in classified.waiting:
        ca = cas.names.get(waiting.ca_id or "") or waiting.ca_id or "none"
        spec = declared.get((waiting.ca_id or "", *waiting.place.key))
        automatic = "on" if spec is not None and spec.activation_policies is not None else "off"
        if waiting.status != PENDING:
            decision = f"{waiting.status}: not imported"
        elif waiting.ca_id not in cas.pems or waiting.fingerprint not in fetched.pems:
            decision = f"{PENDING}: not imported"
        else:
            # ACTIVE only where AWS and the manifests (once imported, AWS's) both say so
            # (fleet.program.resources.verdict_for)
            status = spec.status if spec is not None and waiting.ca_status == CaStatus.ACTIVE else waiting.ca_status
            verdict = decide(
                fetched.pems[waiting.fingerprint].read_text(encoding="utf-8"),
                PENDING,
                cas.pems[waiting.ca_id],
                status,
                spec.crl_pem if spec else None,
                revoked,
            )
            decision = ("activate" if verdict.activate else "refuse") + f": {verdict.reason}"
        rows.append(Pending(ca, waiting.place, waiting.fingerprint, automatic, decision))
    return sorted(rows, key=lambda row: (row.place, row.ca, row.fingerprint))
