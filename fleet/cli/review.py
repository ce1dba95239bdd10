"""`fleet review`: a planned change as a pull-request comment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fleet.aws.status import CertificateStatus
from fleet.cli.base import ManifestsOption, app, fail, say
from fleet.cli.checks import BaseOption, ledger_changes

if TYPE_CHECKING:
    from fleet.model.declarations import CaPlacementInputs, Entry


@app.command()
def review(
    plan: Annotated[Path, typer.Argument(help="the output of `pulumi preview --json`")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the Markdown here")] = None,
    manifests: ManifestsOption = Path("manifests"),
    base: BaseOption = None,
    aws: Annotated[
        bool,
        typer.Option(
            "--aws/--no-aws",
            help="read AWS (read-only) for what the apply will find: "
            "the certificates it converges (adopted or registered, revoked or revoked "
            "already) and the ACTIVE certificates under each CA the plan deactivates",
        ),
    ] = True,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            help="the plan's stack, named in the comment (one comment per stack when the fleet runs as several)",
        ),
    ] = None,
) -> None:
    """Render a planned change (`pulumi preview --json`) as Markdown for a pull-request comment.
    Certificates are named by their PEM files when the manifests load; with --base, a change
    that removes or alters a revocation ledger entry comes first, and the `fleet audit` findings
    the change introduces are listed (at the top when one is high or critical)."""
    from fleet.reports.review import PlanError, render

    changes = ledger_changes(base, manifests) if base is not None else []
    findings = _introduced(base, manifests) if base is not None else None
    try:
        text = plan.read_text(encoding="utf-8")
        labels, expiring = _labels(manifests)
        markdown = render(
            text,
            ledger_changes=changes,
            labels=labels,
            active_now=_active_now(text) if aws else None,
            stack=stack,
            audit=findings,
            observed=_observed(text) if aws else None,
            cas_now=_cas_now(text) if aws else None,
            expiring=expiring,
        )
    except (OSError, PlanError) as error:
        fail(f"{plan}: {error}")
    if output is None:
        sys.stdout.write(markdown)  # verbatim: no console markup or emoji codes
    else:
        output.write_text(markdown, encoding="utf-8")


def _introduced(base: str, manifests: Path) -> list[tuple[bool, str]] | None:
    """`fleet audit`'s findings the change introduces (since ``base``), as review lines."""
    from fleet.cli.audit import introduced_since, review_lines

    found = introduced_since(base, manifests)
    if isinstance(found, str):
        say(f"not auditing the change: {found}", to_err=True)
        return None
    return review_lines(found)


def _active_now(plan: str) -> dict[tuple[str, str, str], int] | None:
    """ACTIVE certificates under each CA the plan deactivates, counted in AWS (one
    listing under each); None when the plan cannot be read or AWS cannot be."""
    from fleet.aws.certificates import Certificates
    from fleet.aws.errors import AwsError
    from fleet.aws.session import shared_factory
    from fleet.reports.review import PlanError, deactivated_cas

    try:
        wanted = deactivated_cas(plan)
    except PlanError:
        return None
    counts = {}
    try:
        for ca_id, account_id, region, role in wanted:
            api = Certificates(shared_factory().client("iot", role, account_id, region), f"{account_id}/{region}")
            counts[(ca_id, account_id, region)] = sum(
                1 for c in api.list(ca_id) if c.status == CertificateStatus.ACTIVE
            )
    except AwsError as error:
        say(f"not counting ACTIVE certificates in AWS ({error}); the review counts those in the plan", to_err=True)
        return None
    return counts


def _observed(plan: str) -> dict[tuple[str, str], dict[str, Entry]] | None:
    """What AWS has now of the certificates the apply would converge (fleet.reports.review.readings),
    read as the apply reads them: one by one when few, else by listing the place. None when
    the plan cannot be read or AWS cannot be."""
    from fleet.aws.errors import AwsError
    from fleet.aws.listing import FewCertificates, PlaceListing, cheaper_one_by_one
    from fleet.aws.session import shared_factory
    from fleet.model import observe
    from fleet.reports.review import PlanError, readings

    try:
        wanted = readings(plan)
    except PlanError:
        return None
    observed = {}
    try:
        for reading in wanted:
            iot = shared_factory().client("iot", reading.role_arn, reading.account_id, reading.region)
            reads: observe.CertificateReads = (
                FewCertificates(iot, reading.where, reading.wanted)
                if cheaper_one_by_one(len(reading.wanted), reading.held, len(reading.policies))
                else PlaceListing(iot, reading.where)
            )
            entries = observe.certificates(reads, reading.wanted, reading.policies)
            observed[(reading.account_id, reading.region)] = entries
    except AwsError as error:
        say(
            f"not reading the certificates in AWS ({error}); the review tells what the apply does from the plan",
            to_err=True,
        )
        return None
    return observed


def _cas_now(plan: str) -> dict[tuple[str, str, str], CaPlacementInputs | None] | None:
    """Each CA placement the plan creates as AWS has it (one describe each), None where AWS has
    none; None when the plan cannot be read or AWS cannot be."""
    from fleet.aws.errors import AwsError
    from fleet.aws.listing import PlaceListing
    from fleet.aws.session import shared_factory
    from fleet.model import observe
    from fleet.reports.review import PlanError, created_cas

    try:
        wanted = created_cas(plan)
    except PlanError:
        return None
    try:
        return {
            (ca.certificate_id, *ca.place): observe.ca(
                PlaceListing(shared_factory().client("iot", ca.role_arn, ca.account_id, ca.region), ca.where), ca
            )
            for ca in wanted
        }
    except AwsError as error:
        say(f"not reading the CAs in AWS ({error}); the review tells what the apply does from the plan", to_err=True)
        return None


def _labels(manifests: Path) -> tuple[dict[str, str], dict[str, str]]:
    """fingerprint -> its PEM file, relative to the manifests folder, and certificate id (device or CA)
    -> when it expires, for those that expire within 30 days; none when the manifests do not load."""
    import datetime

    from fleet.aws.regions import iot_regions
    from fleet.manifest import ManifestError, load_fleet
    from fleet.reports import expiry

    now = datetime.datetime.now(datetime.UTC)
    dates: dict[str, datetime.datetime] = {}

    def note(fingerprint: str, certificate: Any) -> None:
        if certificate.not_valid_after_utc <= expiry.horizon(now, expiry.DAYS):
            dates[fingerprint] = certificate.not_valid_after_utc

    try:
        fleet = load_fleet(
            manifests,
            known_regions=iot_regions(),
            display_root=manifests.resolve().parent,
            observe=note,
            expired_ok=True,
        )
    except ManifestError:
        return {}, {}
    ca_ids = {p.ca: p.certificate_id for p in fleet.ca_placements}
    when = {fp: _when(moment, now) for fp, moment in dates.items()}
    when.update({ca_ids[ca.name]: _when(ca.not_after, now) for ca in expiry.find(fleet, {}, now)})  # CAs only
    return {c.fingerprint: c.file for g in fleet.certificate_groups for c in g.certificates}, when


def _when(moment: Any, now: Any) -> str:
    return f"{'expired' if moment <= now else 'expires'} on {moment.date().isoformat()}"
