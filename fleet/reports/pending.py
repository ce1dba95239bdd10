"""`fleet pending`: certificates devices registered themselves (just-in-time
registration, PENDING_ACTIVATION) under each managed CA, account and region,
with fleet's activation decision; `--adopt` writes them into the manifests.

Adoption is a manifest change to review, never a write to AWS: one group per
CA, account and region (``<ca>-jitr-<account>-<region>``) whose folder holds
the PEMs, added to the manifest file that already has it, or else to the first
file with a ``device_certificates`` section, edited round-trip so comments
and order stay. A certificate the decision finds unfit (revoked, on the CA's
revocation list, a CA certificate) is adopted as REVOKED; one not signed by
the CA, or outside its validity, cannot be declared and is left out (named).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from ruamel.yaml.comments import CommentedMap

from fleet.aws.status import CertificateStatus
from fleet.jitr.activation import Verdict
from fleet.manifest import editing
from fleet.manifest.desired import CaPlacementSpec, Fleet
from fleet.model.survey import PENDING, Survey
from fleet.program.resources import revoked_everywhere, verdict_for
from fleet.reports.console_table import print_table
from fleet.revocation.ledger import Batch

# What fleet validate would refuse in a group (not signed by its CA, expired or
# not yet valid), or what cannot be written down: left out of an adoption.
UNDECLARABLE = ("other-ca", "unreadable", "validity")
# What makes the certificate itself unfit for good: adopted as REVOKED. Other
# refusals (the CA is not ACTIVE just now) say nothing against the certificate.
UNFIT = ("revoked", "crl", "is-ca")


@dataclass(frozen=True)
class Pending:
    placement: CaPlacementSpec
    certificate_id: str
    pem: str
    verdict: Verdict  # what auto_activation would decide (whether or not the placement has it)

    @property
    def group(self) -> str:
        return f"{self.placement.ca}-jitr-{self.placement.account}-{self.placement.region}"


def find(fleet: Fleet, survey: Survey) -> list[Pending]:
    """Every pending registration under a managed CA; one already declared in
    the manifests (awaiting `pulumi up`) or seen in an earlier placement is
    left out, so adopting never declares a certificate twice."""
    revoked = revoked_everywhere(fleet, survey)
    seen = {c.fingerprint for g in fleet.certificate_groups for c in g.certificates}
    found = []
    for spec in fleet.ca_placements:
        place = survey.place(spec.account_id, spec.region)
        if place is None:
            continue
        for cert in place.under_ca.get(spec.certificate_id, []):
            if cert.status != PENDING or cert.certificate_id in seen or cert.certificate_id not in place.pending_pems:
                continue
            seen.add(cert.certificate_id)
            verdict = verdict_for(spec, place, cert.certificate_id, revoked)
            found.append(Pending(spec, cert.certificate_id, place.pending_pems[cert.certificate_id], verdict))
    return found


def print_report(console: Console, found: list[Pending]) -> None:
    print_table(
        console,
        f"{len(found)} pending just-in-time registration(s)",
        ("CA", "account", "region", "certificate", "auto_activation", "decision"),
        (_row(item) for item in found),
        empty="No pending just-in-time registrations under any managed CA.",
    )


def _row(item: Pending) -> tuple[str, ...]:
    p = item.placement
    automatic = "on" if p.activation_policies is not None else "off"
    decision = ("activate" if item.verdict.activate else "refuse") + f": {item.verdict.reason}"
    return p.ca, p.account, p.region, item.certificate_id, automatic, decision


def batches(found: list[Pending], today: datetime.date | None = None) -> list[Batch]:
    """The ledger entries of those adopted as REVOKED: one per certificate, with its PEM."""
    when = today or datetime.date.today()
    return [
        Batch(
            when,
            f"refused at adoption: {item.verdict.reason}",
            item.placement.ca,
            {(item.placement.account_id, item.placement.region)},
            {item.certificate_id: item.pem},
        )
        for item in found
        if item.verdict.refused_for in UNFIT
    ]


def adopt(manifests: Path, found: list[Pending], today: datetime.date | None = None) -> list[Path]:
    """Write the pending certificates into the manifests (their ledger entries:
    ``batches``); returns the files changed or written."""
    when = today or datetime.date.today()
    changed: set[Path] = set()
    for item in found:
        if item.verdict.refused_for in UNDECLARABLE:
            continue
        folder = manifests / "pki" / "adopted" / item.group
        folder.mkdir(parents=True, exist_ok=True)
        pem_path = folder / f"{item.certificate_id}.pem"
        if not pem_path.exists():
            pem_path.write_text(item.pem, encoding="utf-8")
            changed.add(pem_path)
    by_group: dict[str, list[Pending]] = {}
    for item in found:
        if item.verdict.refused_for not in UNDECLARABLE:
            by_group.setdefault(item.group, []).append(item)
    for group, items in sorted(by_group.items()):
        path = _file_for(manifests, group)
        data = editing.load(path) if path.exists() else CommentedMap()
        groups = data.setdefault("device_certificates", CommentedMap())
        entry = groups.get(group)
        if entry is None:
            groups[group] = entry = _new_group(items[0])
            groups.yaml_set_comment_before_after_key(
                group,
                before=f"adopted by `fleet pending --adopt`: just-in-time registrations under {items[0].placement.ca}",
                indent=2,
            )
        exceptions = entry.setdefault("exceptions", [])
        listed = {e.get("certificate") for e in exceptions}
        for item in items:
            relative = f"pki/adopted/{group}/{item.certificate_id}.pem"
            if item.verdict.refused_for in UNFIT and relative not in listed:
                exceptions.append(
                    CommentedMap(
                        certificate=relative,
                        status=CertificateStatus.REVOKED.value,  # plain text: ruamel writes no enums
                        revocation=editing.revocation(f"refused at adoption: {item.verdict.reason}", when),
                    )
                )
        if not exceptions:
            del entry["exceptions"]
        text_before = path.read_text(encoding="utf-8") if path.exists() else None
        path.write_text(editing.dump(data), encoding="utf-8")
        if text_before != path.read_text(encoding="utf-8"):
            changed.add(path)
    return sorted(changed)


def _new_group(item: Pending) -> Any:
    p = item.placement
    group = CommentedMap()
    group["ca"] = p.ca
    group["certificates"] = f"pki/adopted/{item.group}"
    group["placements"] = [CommentedMap(account=p.account, regions=[p.region])]
    group["status"] = CertificateStatus.ACTIVE.value
    if p.activation_policies:
        group["policies"] = list(p.activation_policies)
    return group


def _file_for(manifests: Path, group: str) -> Path:
    """The top-level manifest that has the group, else the first with device
    certificates, else a new adopted.yaml (paths in it are relative to the folder)."""
    files = sorted(manifests.glob("*.yaml"))
    loaded = [(path, editing.load(path)) for path in files]
    for path, data in loaded:
        if isinstance(data, CommentedMap) and group in (data.get("device_certificates") or {}):
            return path
    for path, data in loaded:
        if isinstance(data, CommentedMap) and "device_certificates" in data:
            return path
    return manifests / "adopted.yaml"
