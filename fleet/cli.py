"""The fleet command line: checks that need no Pulumi and no AWS writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from fleet.manifest import ManifestError, load_fleet
from fleet.manifest.model import ManifestFile

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
out = Console()
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


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def main() -> None:
    app()
