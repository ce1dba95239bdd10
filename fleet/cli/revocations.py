"""Revoking: `fleet revoke-ca` (a compromised CA) and `fleet record-revocations`
(the ledger entries of what the manifests mark REVOKED). Each writes its
manifest change and its ledger entries in one round-trip edit; nothing is
applied until the change is merged and `pulumi up` runs."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.aws.status import CertificateStatus
from fleet.cli.base import ManifestsOption, app, fail, load, out, say, wrote


@app.command("revoke-ca")
def revoke_ca(
    ca: Annotated[str, typer.Argument(help="the compromised CA's name in the manifests")],
    reason: Annotated[str, typer.Option("--reason", help="why; recorded with every revocation")],
    manifests: ManifestsOption = Path("manifests"),
    date: Annotated[str | None, typer.Option(help="revocation date, YYYY-MM-DD (default: today)")] = None,
    aws: Annotated[bool, typer.Option("--aws/--no-aws", help="look in AWS for certificates no manifest lists")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the blast radius, write nothing")] = False,
) -> None:
    """Write the manifest change for a compromised CA: deactivate it everywhere and
    revoke every certificate it signed (manifests and the revocation ledger).
    Prints the blast radius first; applies nothing."""
    from fleet.aws.certificates import Certificates
    from fleet.aws.errors import AwsError
    from fleet.aws.session import shared_factory
    from fleet.manifest.problems import did_you_mean
    from fleet.revocation import ledger
    from fleet.revocation import revoke_ca as revoking

    fleet = load(manifests)
    placements = [p for p in fleet.ca_placements if p.ca == ca]
    if not placements:
        fail(f"unknown CA {ca!r}{did_you_mean(ca, {p.ca for p in fleet.ca_placements})}")
    when = _date(date)
    radius = revoking.blast_radius(fleet, ca)
    if aws:

        def api_for(p: revoking.Placement) -> Certificates:
            role = next(a.role_arn for a in fleet.accounts if a.name == p.account)
            where = f"account {p.account} ({p.account_id}), {p.region}"
            return Certificates(shared_factory().client("iot", role, p.account_id, p.region), where)

        try:
            revoking.discover(radius, placements[0].certificate_id, revoking.declared_fingerprints(fleet), api_for)
        except AwsError as error:
            fail(f"could not read AWS: {error}")
    _print_radius(ca, radius, aws)
    if dry_run:
        return
    changed = revoking.write(manifests, ca, reason, when)
    changed += ledger.record(manifests, fleet, revoking.batches(fleet, manifests, ca, reason, when, radius))
    wrote(sorted(set(changed)))


@app.command("record-revocations")
def record_revocations(manifests: ManifestsOption = Path("manifests")) -> None:
    """Write the revocation ledger's entries for every certificate the manifests
    mark REVOKED that it does not record yet (with a copy of each PEM)."""
    from fleet.manifest import ManifestError
    from fleet.revocation import ledger

    fleet = load(manifests, unrecorded_ok=True)
    try:
        changed = ledger.record(manifests, fleet, ledger.declared_revocations(fleet, manifests))
    except ManifestError as error:
        fail(str(error))
    if not changed:
        say("The revocation ledger records every revocation the manifests make.")
        return
    wrote(changed)


def _date(text: str | None) -> datetime.date:
    if text is None:
        return datetime.date.today()
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        fail(f"--date {text!r} is not a date (YYYY-MM-DD)")
    if day > datetime.date.today():
        fail(f"--date {day} is in the future: a revocation is recorded once it happened")
    return day


def _print_radius(ca: str, radius: list[Any], aws: bool) -> None:
    from rich.table import Table

    table = Table(title=f"Blast radius of revoking CA {ca} (revocation is irreversible)", title_justify="left")
    for column in ("account", "region", "CA", "to revoke", "revoked", "only in AWS"):
        table.add_column(column, justify="right" if "revok" in column or "AWS" in column else "left")
    for p in radius:
        table.add_row(
            p.account,
            p.region,
            f"{p.ca_status} -> INACTIVE",
            str(p.declared[CertificateStatus.ACTIVE] + p.declared[CertificateStatus.INACTIVE]),
            str(p.declared[CertificateStatus.REVOKED]),
            str(len(p.unlisted)) if aws else "not checked",
        )
    out.print(table)
    if aws:
        active = sum(p.aws_status[CertificateStatus.ACTIVE] for p in radius)
        say(
            f"{active} certificate(s) under {ca} are ACTIVE in AWS right now; deactivating the CA alone "
            "leaves them working: each is revoked by the change below."
        )
