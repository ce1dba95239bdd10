"""Writing the revocation ledger: every way fleet revokes appends its entry here,
in the same round-trip edit as the manifest change (comments, order and
formatting of what is there stay as they were), and keeps a copy of each
certificate's PEM under manifests/revoked/ so `pulumi up` can register the
REVOKED record again wherever AWS loses it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from fleet.aws.status import CertificateStatus
from fleet.files import write_atomic
from fleet.manifest import editing
from fleet.manifest.desired import Fleet

LEDGER = "revocations.yaml"
ARCHIVE = "revoked"
HEADER = (
    "yaml-language-server: $schema=../schema/manifest.schema.json\n\n"
    "The revocation ledger: every certificate fleet ever revoked, where, when and why.\n"
    "It only grows: `fleet validate --base` refuses a change that removes or alters an\n"
    "entry, and fleet treats as revoked every fingerprint this file's history held.\n"
    "Written by fleet revoke-ca, record-revocations, drift --adopt-revocations and\n"
    "pending --adopt; certificates' PEM copies are under revoked/."
)


@dataclass
class Batch:
    """Certificates revoked together."""

    date: datetime.date
    reason: str
    ca: str | None
    places: set[tuple[str, str]] = field(default_factory=set)  # (account id, region)
    certificates: dict[str, str | None] = field(default_factory=dict)  # fingerprint -> PEM (None: not at hand)


def record(
    manifests: Path, fleet: Fleet, batches: Iterable[Batch], extra_roles: Mapping[str, str] | None = None
) -> list[Path]:
    """Append the batches to the ledger (what it already records in a place is
    left out), with a role for each account they name; returns the files
    changed or written."""
    batches = [b for b in (_new_part(fleet, b) for b in batches) if b.certificates]
    if not batches:
        return []
    path = _ledger_file(manifests)
    data = editing.load(path) if path.exists() else None
    if not isinstance(data, CommentedMap):
        data = CommentedMap()
        data.yaml_set_start_comment(HEADER)
    ledger = data.setdefault("revocations", CommentedMap())
    roles = ledger.setdefault("roles", CommentedMap())
    known_roles = {a.id: a.role_arn for a in fleet.accounts} | dict(extra_roles or {})
    entries = ledger.setdefault("entries", CommentedSeq())
    changed: list[Path] = []
    for batch in batches:
        for account_id, _ in sorted(batch.places):
            if account_id not in roles and account_id in known_roles:
                roles[account_id] = known_roles[account_id]
        entry = CommentedMap()
        entry["date"] = batch.date
        entry["reason"] = batch.reason
        if batch.ca:
            entry["ca"] = batch.ca
        entry["places"] = CommentedSeq(f"{account_id}/{region}" for account_id, region in sorted(batch.places))
        entry["certificates"] = LiteralScalarString("".join(f"{fp}\n" for fp in sorted(batch.certificates)))
        entries.append(entry)
        changed.extend(_archive(manifests, batch.certificates))
    text = editing.dump(data)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_atomic(path, text)
        changed.append(path)
    return sorted(set(changed))


def _new_part(fleet: Fleet, batch: Batch) -> Batch:
    """The batch less what the ledger already records everywhere it names."""
    known = fleet.ledger.revocations
    kept = {
        fp: pem for fp, pem in batch.certificates.items() if fp not in known or not batch.places <= known[fp].places
    }
    return Batch(batch.date, batch.reason, batch.ca, set(batch.places), kept)


def _ledger_file(manifests: Path) -> Path:
    """The file that holds the ledger already, else manifests/revocations.yaml."""
    for path in sorted(manifests.rglob("*.yaml")):
        data = editing.load(path)
        if isinstance(data, CommentedMap) and "revocations" in data:
            return path
    return manifests / LEDGER


def _archive(manifests: Path, certificates: Mapping[str, str | None]) -> list[Path]:
    folder = manifests / ARCHIVE
    written = []
    for fp, pem in sorted(certificates.items()):
        target = folder / f"{fp}.pem"
        if pem is not None and not target.exists():  # written whole: a killed run leaves no half PEM
            write_atomic(target, pem)
            written.append(target)
    return written


def declared_revocations(fleet: Fleet, manifests: Path) -> list[Batch]:
    """What the manifests mark REVOKED and the ledger does not record yet, as
    batches of certificates revoked on one date, for one reason, under one CA,
    in the same accounts and regions, with their PEMs from the manifests."""
    missing: dict[str, tuple[tuple[str, str, str | None], set[tuple[str, str]], str]] = {}
    for group in fleet.certificate_groups:
        for cert in group.certificates:
            if cert.status != CertificateStatus.REVOKED or not cert.revocation_date:
                continue
            known = fleet.ledger.revocations.get(cert.fingerprint)
            place = (group.account_id, group.region)
            if known is not None and place in known.places:
                continue
            what = (cert.revocation_date, cert.revocation_reason or "", group.ca)
            missing.setdefault(cert.fingerprint, (what, set(), cert.file))[1].add(place)
    batches: dict[tuple[object, ...], Batch] = {}
    for fp, ((date, reason, ca), places, file) in sorted(missing.items()):
        batch = batches.setdefault(
            (date, reason, ca or "", tuple(sorted(places))),
            Batch(datetime.date.fromisoformat(date), reason, ca, set(places)),
        )
        batch.certificates[fp] = (manifests / file).read_text(encoding="utf-8")
    return [batches[key] for key in sorted(batches, key=str)]
