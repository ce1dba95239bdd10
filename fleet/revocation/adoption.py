"""`fleet drift --adopt-revocations`: the manifest change that records, in git,
revocations made in AWS outside fleet.

A certificate revoked by hand stops every run (fleet.revocation.guard) until
the manifests say REVOKED too: fleet never un-revokes it. This writes that
change for every such certificate, as a per-certificate exception of its
group (reason and AWS's revocation date), editing the group's manifest file
round-trip, and its revocation ledger entry (``batches``). Nothing is
applied: the change is reviewed, merged, then applied.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from fleet.aws.status import CertificateStatus
from fleet.manifest import editing
from fleet.manifest.desired import Fleet
from fleet.model.survey import Survey
from fleet.revocation.ledger import Batch

REASON = "revoked in AWS outside fleet; adopted by `fleet drift --adopt-revocations`"


@dataclass(frozen=True)
class Revoked:
    group: str
    file: str  # the certificate's PEM, relative to the manifests folder
    revoked_on: datetime.date
    fingerprint: str = ""
    places: frozenset[tuple[str, str]] = frozenset()  # where the group declares it: revoked there from now on
    ca: str | None = None


def found(fleet: Fleet, survey: Survey) -> list[Revoked]:
    """Certificates the manifests want usable that AWS has revoked, one entry per certificate."""
    dates: dict[str, str] = {}
    for place in survey:
        for fingerprint, day in place.revoked_on.items():
            dates[fingerprint] = min(dates.get(fingerprint, day), day)
    places: dict[str, set[tuple[str, str]]] = {}
    for group in fleet.certificate_groups:
        for cert in group.certificates:
            places.setdefault(cert.fingerprint, set()).add((group.account_id, group.region))
    entries = {
        (group.group, cert.file): Revoked(
            group.group,
            cert.file,
            datetime.date.fromisoformat(dates[cert.fingerprint]),
            cert.fingerprint,
            frozenset(places[cert.fingerprint]),
            group.ca,
        )
        for group in fleet.certificate_groups
        for cert in group.certificates
        if cert.status != CertificateStatus.REVOKED and cert.fingerprint in dates
    }
    return [entries[key] for key in sorted(entries)]


def batches(manifests: Path, revoked: list[Revoked]) -> list[Batch]:
    """Their ledger entries: one per certificate (each has its own date), with its PEM."""
    return [
        Batch(
            entry.revoked_on,
            REASON,
            entry.ca,
            set(entry.places),
            {entry.fingerprint: (manifests / entry.file).read_text(encoding="utf-8")},
        )
        for entry in revoked
    ]


def adopt(manifests: Path, revoked: list[Revoked]) -> list[Path]:
    """Write the revocations into the manifest files declaring their groups; returns the files changed."""
    changed = []
    for path in sorted(manifests.rglob("*.yaml")):
        data = editing.load(path)
        groups = data.get("device_certificates") if isinstance(data, CommentedMap) else None
        if not groups:
            continue
        for entry in revoked:
            if entry.group in groups:
                relative = os.path.relpath(manifests / entry.file, path.parent)
                _revoke(groups[entry.group], relative, entry.revoked_on)
        if editing.save(path, data):
            changed.append(path)
    return changed


def _revoke(group: Any, certificate: str, day: datetime.date) -> None:
    exceptions = group.setdefault("exceptions", [])
    existing = next((e for e in exceptions if e.get("certificate") == certificate), None)
    if existing is None:
        existing = CommentedMap(certificate=certificate)
        exceptions.append(existing)
    editing.revoke(existing, REASON, day, after="certificate")
