"""The fleet command line: checks that need no Pulumi and no AWS writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fleet.manifest import ManifestError, load_fleet
from fleet.manifest.model import ManifestFile

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
# Tables keep whole certificate ids when piped into a CI log (rich assumes 80 columns there).
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

ManifestsOption = Annotated[Path, typer.Option("--manifests", "-m", help="folder of the YAML manifests")]


@app.command()
def validate(manifests: ManifestsOption = Path("manifests")) -> None:
    """Check the manifests (schema, files, AWS rules) without calling AWS."""
    from fleet.aws.regions import iot_regions  # botocore's region data; makes no call

    try:
        fleet = load_fleet(manifests, known_regions=iot_regions())
    except ManifestError as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    groups = {g.group: len(g.certificates) for g in fleet.certificate_groups}
    out.print(
        f"{manifests}: valid: {_count(len(fleet.accounts), 'account')}, "
        f"{_count(len({p.ca for p in fleet.ca_placements}), 'CA')} in "
        f"{_count(len(fleet.ca_placements), 'placement')}, "
        f"{_count(sum(groups.values()), 'device certificate')} in {_count(len(groups), 'group')} "
        f"({_count(len(fleet.certificate_groups), 'placement')}), "
        f"{_count(len({p.name for p in fleet.policies}), 'policy', 'policies')}",
        markup=False, highlight=False, soft_wrap=True,
    )


@app.command()
def schema() -> None:
    """Print the manifest JSON Schema (committed as schema/manifest.schema.json)."""
    out.print(json_schema(), markup=False, highlight=False, soft_wrap=True, end="")


@app.command()
def iam(
    reader: Annotated[bool, typer.Option("--reader", help="the read-only role of previews and drift checks")] = False,
) -> None:
    """Print the IAM policy fleet's deployer role needs in each account (docs/iam-deployer-policy.json),
    or with --reader the reader role's (docs/iam-reader-policy.json)."""
    from fleet import iam as policies

    text = policies.as_text(policies.reader_policy() if reader else policies.deployer_policy())
    sys.stdout.write(text)  # verbatim JSON


def json_schema() -> str:
    return json.dumps(ManifestFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


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
    revoke every certificate it signed. Prints the blast radius first; applies nothing."""
    import datetime

    from fleet import revoke_ca as revoking
    from fleet.aws.certificates import Certificates
    from fleet.aws.regions import iot_regions
    from fleet.aws.session import SessionFactory
    from fleet.manifest.problems import did_you_mean
    from fleet.settings import Settings

    try:
        fleet = load_fleet(manifests, known_regions=iot_regions())
    except ManifestError as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    placements = [p for p in fleet.ca_placements if p.ca == ca]
    if not placements:
        known = {p.ca for p in fleet.ca_placements}
        err.print(f"unknown CA {ca!r}{did_you_mean(ca, known)}", markup=False, highlight=False)
        raise typer.Exit(1)
    when = datetime.date.fromisoformat(date) if date else datetime.date.today()
    radius = revoking.blast_radius(fleet, ca)
    if aws:
        sessions = SessionFactory(Settings.from_env())

        def api_for(p: revoking.Placement) -> Certificates:
            role = next(a.role_arn for a in fleet.accounts if a.name == p.account)
            where = f"account {p.account} ({p.account_id}), {p.region}"
            return Certificates(sessions.client("iot", role, p.account_id, p.region), where)

        revoking.discover(radius, placements[0].certificate_id, revoking.declared_fingerprints(fleet), api_for)
    _print_radius(ca, radius, aws)
    if dry_run:
        return
    changed = revoking.write(manifests, ca, reason, when, radius)
    out.print(f"\nWrote {len(changed)} change(s); review them, commit, and open a pull request:", highlight=False)
    for path in changed:
        out.print(f"  {path}", markup=False, highlight=False)


def _print_radius(ca: str, radius: list[Any], aws: bool) -> None:
    from rich.table import Table

    table = Table(title=f"Blast radius of revoking CA {ca} (revocation is irreversible)", title_justify="left")
    for column in ("account", "region", "CA", "to revoke", "revoked", "only in AWS"):
        table.add_column(column, justify="right" if "revok" in column or "AWS" in column else "left")
    for p in radius:
        table.add_row(p.account, p.region, f"{p.ca_status} -> INACTIVE",
                      str(p.declared["ACTIVE"] + p.declared["INACTIVE"]), str(p.declared["REVOKED"]),
                      str(len(p.unlisted)) if aws else "not checked")
    out.print(table)
    active = sum(p.aws_status["ACTIVE"] for p in radius)
    if aws:
        out.print(f"{active} certificate(s) under {ca} are ACTIVE in AWS right now; deactivating the CA alone "
                  "leaves them working: each is revoked by the change below.", highlight=False)


def _load(manifests: Path) -> Any:
    """The manifests as a Fleet; on a problem, print every one and exit 1 (nothing was called)."""
    from fleet.aws.regions import iot_regions

    try:
        return load_fleet(manifests, known_regions=iot_regions())
    except ManifestError as error:
        err.print(str(error), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _survey(fleet: Any, all_pending_pems: bool = False) -> Any:
    from fleet.aws.errors import AwsError
    from fleet.aws.session import shared_factory
    from fleet.survey import survey

    try:
        return survey(fleet, shared_factory(), all_pending_pems)
    except AwsError as error:
        err.print(f"could not read AWS: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def drift(
    manifests: ManifestsOption = Path("manifests"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
    adopt_revocations: Annotated[bool, typer.Option(
        "--adopt-revocations", help="write certificates revoked in AWS outside fleet into the manifests as REVOKED"
    )] = False,
) -> None:
    """Compare AWS with the manifests, as `pulumi preview --refresh` does; exit 7 on drift, 0 without
    (and 0 once --adopt-revocations has written its change)."""
    from fleet import drift_report, revocation_adoption
    from fleet.aws.errors import AwsError
    from fleet.aws.listing import Listings
    from fleet.aws.session import shared_factory
    from fleet.drift import find

    fleet = _load(manifests)
    seen = _survey(fleet)
    factory = shared_factory()
    listings = Listings(lambda role, account_id, region: factory.client("iot", role, account_id, region),
                        factory.writes)
    try:
        found = find(fleet, seen, lambda inputs: listings.of(inputs.role_arn,  # type: ignore[attr-defined]
                                                             *inputs.place, inputs.where), Path.cwd())
    except AwsError as error:
        err.print(f"could not read AWS: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(drift_report.as_json(found))  # verbatim: no console markup or emoji codes
    else:
        drift_report.print_report(out, found)
    if adopt_revocations:
        changed = revocation_adoption.adopt(manifests, revocation_adoption.found(fleet, seen))
        err.print(f"Wrote {len(changed)} change(s); review them, commit, and open a pull request:", highlight=False)
        for path in changed:
            err.print(f"  {path}", markup=False, highlight=False)
        raise typer.Exit(0)
    raise typer.Exit(7 if found else 0)


@app.command()
def pending(
    manifests: ManifestsOption = Path("manifests"),
    adopt: Annotated[bool, typer.Option("--adopt", help="write them into the manifests (a change to review)")] = False,
) -> None:
    """List certificates devices registered themselves (PENDING_ACTIVATION) under
    each managed CA, account and region, with fleet's activation decision."""
    from fleet import pending as pending_registrations

    fleet = _load(manifests)
    found = pending_registrations.find(fleet, _survey(fleet, all_pending_pems=True))
    pending_registrations.print_report(out, found)
    if adopt and found:
        changed = pending_registrations.adopt(manifests, found)
        out.print(f"\nWrote {len(changed)} change(s); review them, commit, and open a pull request:", highlight=False)
        for path in changed:
            out.print(f"  {path}", markup=False, highlight=False)
        for item in found:
            if item.verdict.refused_for in pending_registrations.UNDECLARABLE:
                out.print(f"Left out {item.certificate_id} ({item.placement.account}/{item.placement.region}): "
                          f"{item.verdict.reason}; delete it from AWS or revoke it there.",
                          markup=False, highlight=False)


@app.command()
def review(
    plan: Annotated[Path, typer.Argument(help="the output of `pulumi preview --json`")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the Markdown here")] = None,
    manifests: ManifestsOption = Path("manifests"),
    aws: Annotated[bool, typer.Option("--aws/--no-aws", help="count in AWS the ACTIVE certificates under each "
                                      "CA the plan deactivates (read-only)")] = True,
) -> None:
    """Render a planned change (`pulumi preview --json`) as Markdown for a pull-request comment.
    Certificates are named by their PEM files when the manifests load."""
    from fleet.review import PlanError, render

    try:
        text = plan.read_text(encoding="utf-8")
        markdown = render(text, labels=_labels(manifests), active_now=_active_now(text) if aws else None)
    except (OSError, PlanError) as error:
        err.print(f"{plan}: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if output is None:
        sys.stdout.write(markdown)  # verbatim: no console markup or emoji codes
    else:
        output.write_text(markdown, encoding="utf-8")


def _active_now(plan: str) -> dict[tuple[str, str, str], int] | None:
    """ACTIVE certificates under each CA the plan deactivates, counted in AWS (one
    listing under each); None when the plan cannot be read or AWS cannot be."""
    import json as plan_json

    from fleet.aws.certificates import Certificates
    from fleet.aws.errors import AwsError
    from fleet.aws.session import shared_factory
    from fleet.review import deactivated_cas

    try:
        wanted = deactivated_cas(plan)
    except (plan_json.JSONDecodeError, KeyError, TypeError):
        return None
    counts = {}
    try:
        for ca_id, account_id, region, role in wanted:
            api = Certificates(shared_factory().client("iot", role, account_id, region), f"{account_id}/{region}")
            counts[(ca_id, account_id, region)] = sum(1 for c in api.list(ca_id) if c.status == "ACTIVE")
    except AwsError as error:
        err.print(f"not counting ACTIVE certificates in AWS ({error}); the review counts those in the plan",
                  markup=False, highlight=False, soft_wrap=True)
        return None
    return counts


def _labels(manifests: Path) -> dict[str, str]:
    """fingerprint -> its PEM file, relative to the manifests' parent; none when they do not load."""
    from fleet.aws.regions import iot_regions

    try:
        fleet = load_fleet(manifests, known_regions=iot_regions(), display_root=manifests.resolve().parent)
    except ManifestError:
        return {}
    return {c.fingerprint: c.file for g in fleet.certificate_groups for c in g.certificates}


@app.command("jitr-config")
def jitr_config(
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write it")] = Path("fleet-jitr.json"),
    manifests: ManifestsOption = Path("manifests"),
    aws: Annotated[bool, typer.Option("--aws/--no-aws", help="add certificates AWS has revoked")] = True,
) -> None:
    """Write the configuration of the just-in-time registration Lambda handler
    (fleet.jitr_lambda): CAs with auto_activation, their CRLs and policies, revoked certificates."""
    from fleet.jitr_lambda import configuration
    from fleet.resources import revoked_everywhere
    from fleet.survey import Survey

    fleet = _load(manifests)
    revoked = revoked_everywhere(fleet, _survey(fleet) if aws else Survey({}))
    output.write_text(json.dumps(configuration(fleet, revoked), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    out.print(f"wrote {output}", markup=False, highlight=False)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def main() -> None:
    app()
