"""`fleet revoke-ca`: the manifest change for a compromised CA.

It deactivates the CA in every placement (auto-registration off) and revokes
every certificate it signed: the groups declared under it, and the
certificates found in AWS under it that no manifest lists (their PEMs are
saved under manifests/revoked/ as a new REVOKED group). Nothing is applied:
the change goes through review, and `pulumi up` carries it out.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from fleet.manifest import editing
from fleet.manifest.desired import Fleet


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
        for p in fleet.ca_placements if p.ca == ca
    }
    for group in fleet.certificate_groups:
        if group.ca == ca and (group.account, group.region) in placements:
            placements[(group.account, group.region)].declared.update(c.status for c in group.certificates)
    return [placements[key] for key in sorted(placements)]


def declared_fingerprints(fleet: Fleet) -> set[str]:
    return {c.fingerprint for group in fleet.certificate_groups for c in group.certificates}


def write(
    manifests: Path, ca: str, reason: str, date: datetime.date, radius: Iterable[Placement]
) -> list[Path]:
    """Edit the manifest files in place; returns the files changed or written."""
    changed: list[Path] = []
    for path in sorted(p for p in manifests.rglob("*") if p.suffix in (".yaml", ".yml")):
        data = editing.load(path)
        if not isinstance(data, CommentedMap):
            continue
        if ca in (data.get("cas") or {}):
            for placement in data["cas"][ca]["placements"]:
                editing.put_after(placement, "status", "INACTIVE", after="regions")
                editing.put_after(placement, "auto_registration", "DISABLE", after="status")
                placement.pop("auto_activation", None)  # nothing is activated under a compromised CA
        for group in (data.get("device_certificates") or {}).values():
            if group.get("ca") == ca:
                editing.revoke(group, reason, date, after="certificates")
                for exception in group.get("exceptions") or []:
                    if exception.get("status") != "REVOKED":
                        editing.revoke(exception, reason, date, after="certificate")
        if editing.save(path, data):
            changed.append(path)
    found = [(p, fp, pem) for p in radius for fp, pem in sorted(p.unlisted.items())]
    if found:
        changed.extend(_write_found(manifests, ca, reason, date, found))
    return changed


def _write_found(
    manifests: Path, ca: str, reason: str, date: datetime.date, found: list[tuple[Placement, str, str]]
) -> list[Path]:
    """A new manifest, revoked/CA.yaml, with one REVOKED group per account and
    region where unlisted certificates were found, so each is recorded exactly
    where AWS has it; their PEMs beside it."""
    folder = manifests / "revoked"
    groups = CommentedMap()
    for placement in sorted({p.account + "/" + p.region: p for p, _, _ in found}.values(),
                            key=lambda p: (p.account, p.region)):
        name = f"{ca}-found-{placement.account}-{placement.region}"
        (folder / name).mkdir(parents=True, exist_ok=True)
        for where, fingerprint, pem in found:
            if where is placement:
                (folder / name / f"{fingerprint}.pem").write_text(pem)
        group = CommentedMap()
        group["ca"] = ca
        group["certificates"] = name
        group["placements"] = [CommentedMap(account=placement.account, regions=[placement.region])]
        group["status"] = "REVOKED"
        group["revocation"] = editing.revocation(reason, date)
        groups[name] = group
    document = CommentedMap(device_certificates=groups)
    document.yaml_set_start_comment(
        "yaml-language-server: $schema=../../schema/manifest.schema.json\n\n"
        f"Written by `fleet revoke-ca {ca}`: certificates AWS had under {ca} that no manifest listed."
    )
    path = folder / f"{ca}.yaml"
    path.write_text(editing.dump(document), encoding="utf-8")
    return [path]


def discover(radius: Iterable[Placement], ca_id: str, declared: set[str], api_for: Any) -> None:
    """Fill in what AWS has under the CA in each placement: statuses, and the
    PEMs of certificates no manifest lists (one describe each, only for those)."""
    for placement in radius:
        api = api_for(placement)
        for summary in api.list(ca_id):
            placement.aws_status[summary.status] += 1
            if summary.certificate_id not in declared:
                placement.unlisted[summary.certificate_id] = api.pem(summary.certificate_id)
