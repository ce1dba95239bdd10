"""`fleet revoke-ca`: the manifest change for a compromised CA.

It deactivates the CA in every placement (auto-registration off) and revokes
every certificate it signed: the groups declared under it, and the
certificates found in AWS under it that no manifest lists. All of them go
into the revocation ledger, every account and region where each is revoked,
with a copy of each PEM under manifests/revoked/ (fleet.revocation.ledger).
Nothing is applied: the change goes through review, and `pulumi up` carries
it out (the ledger's certificates are declared REVOKED where it says).
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from fleet.aws.status import CaStatus, CertificateStatus
from fleet.manifest import editing
from fleet.manifest.desired import Fleet
from fleet.revocation.ledger import Batch


@dataclass
class Placement:
    """The blast radius in one account and region."""

    account: str
    account_id: str
    region: str
    ca_status: str
    declared: Counter[str] = field(default_factory=Counter)  # certificate status -> count
    unlisted: dict[str, str] = field(default_factory=dict)  # fingerprint -> PEM, in AWS only
    aws_status: Counter[str] = field(default_factory=Counter)


def blast_radius(fleet: Fleet, ca: str) -> list[Placement]:
    placements = {
        (p.account, p.region): Placement(p.account, p.account_id, p.region, p.status)
        for p in fleet.ca_placements
        if p.ca == ca
    }
    for group in fleet.certificate_groups:
        if group.ca == ca and (group.account, group.region) in placements:
            placements[(group.account, group.region)].declared.update(c.status for c in group.certificates)
    return [placements[key] for key in sorted(placements)]


def declared_fingerprints(fleet: Fleet) -> set[str]:
    return {c.fingerprint for group in fleet.certificate_groups for c in group.certificates}


def write(manifests: Path, ca: str, reason: str, date: datetime.date) -> list[Path]:
    """Edit the manifest files in place (the certificates only AWS knew go into
    the ledger: ``batches``); returns the files changed."""
    changed: list[Path] = []
    for path in sorted(p for p in manifests.rglob("*") if p.suffix in (".yaml", ".yml")):
        data = editing.load(path)
        if not isinstance(data, CommentedMap):
            continue
        if ca in (data.get("cas") or {}):
            for placement in data["cas"][ca]["placements"]:
                editing.put_after(placement, "status", CaStatus.INACTIVE.value, after="regions")
                editing.put_after(placement, "auto_registration", "DISABLE", after="status")
                placement.pop("auto_activation", None)  # nothing is activated under a compromised CA
        for group in (data.get("device_certificates") or {}).values():
            if group.get("ca") == ca:
                editing.revoke(group, reason, date, after="certificates")
                for exception in group.get("exceptions") or []:
                    if exception.get("status") != CertificateStatus.REVOKED:
                        editing.revoke(exception, reason, date, after="certificate")
        if editing.save(path, data):
            changed.append(path)
    return changed


def batches(
    fleet: Fleet, manifests: Path, ca: str, reason: str, date: datetime.date, radius: Iterable[Placement]
) -> list[Batch]:
    """The ledger entries of the revocation: every certificate of the CA, each in
    the accounts and regions where it is declared under it or AWS has it."""
    where: dict[str, set[tuple[str, str]]] = {}
    pems: dict[str, str | None] = {}
    for group in fleet.certificate_groups:
        if group.ca == ca:
            for cert in group.certificates:
                where.setdefault(cert.fingerprint, set()).add((group.account_id, group.region))
                pems[cert.fingerprint] = (manifests / cert.file).read_text(encoding="utf-8")
    for placement in radius:
        for fingerprint, pem in placement.unlisted.items():
            where.setdefault(fingerprint, set()).add((placement.account_id, placement.region))
            pems[fingerprint] = pem
    grouped: dict[tuple[tuple[str, str], ...], Batch] = {}
    for fingerprint, places in sorted(where.items()):
        key = tuple(sorted(places))
        batch = grouped.setdefault(key, Batch(date, reason, ca, set(places)))
        batch.certificates[fingerprint] = pems.get(fingerprint)
    return [grouped[key] for key in sorted(grouped)]


def discover(radius: Iterable[Placement], ca_id: str, declared: set[str], api_for: Any) -> None:
    """Fill in what AWS has under the CA in each placement: statuses, and the
    PEMs of certificates no manifest lists (one describe each, only for those)."""
    for placement in radius:
        api = api_for(placement)
        for summary in api.list(ca_id):
            placement.aws_status[summary.status] += 1
            if summary.certificate_id not in declared:
                placement.unlisted[summary.certificate_id] = api.pem(summary.certificate_id)
