"""`fleet import`: what AWS already has, written into the manifests, with reads only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.base import ManifestsOption, app, fail, load, out, say


@app.command("import")
def import_estate(
    manifests: ManifestsOption = Path("manifests"),
    accounts: Annotated[
        list[str] | None,
        typer.Option(
            "--account", help="only this account, by its name in the manifests (repeat for several); default: all"
        ),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option("--region", help="only this region (repeat for several); default: each account's regions"),
    ] = None,
    things: Annotated[
        bool,
        typer.Option(
            "--things",
            help="also read the things each certificate is attached to, and declare `things: common-name` "
            "where it is attached to the one its common name names: one ListPrincipalThings call per certificate "
            "and place, as many calls again as the PEMs take",
        ),
    ] = False,
) -> None:
    """Write the CAs, policies, device certificates and attachments AWS already has into the manifests
    (round-trip: comments, order and hand edits stay), REVOKED certificates into the revocation ledger,
    so that the next `pulumi up` adopts everything and writes nothing. Reads only (through FLEET_READER_ROLE
    when it is set); a PEM is fetched per certificate (one DescribeCertificate each, paced), and a PEM already
    in the repository is never fetched again: a stopped import, run again, finishes the rest."""
    from fleet.aws.errors import AwsError
    from fleet.aws.session import SessionFactory
    from fleet.importing import report, run
    from fleet.importing.fetching import STAGING
    from fleet.manifest.problems import did_you_mean
    from fleet.settings import Settings

    fleet = load(manifests)
    names = {a.name for a in fleet.accounts}
    for name in accounts or []:
        if name not in names:
            fail(f"fleet import: unknown account {name!r}{did_you_mean(name, names)}")
    places = run.places_of(fleet, accounts or [], regions or [])
    for region in regions or []:
        if not any(p.region == region for p in places):
            fail(f"fleet import: no account {'asked for ' if accounts else ''}has region {region!r} in the manifests")
    settings = Settings.from_env()
    sessions = SessionFactory(settings, read_only="fleet import only reads AWS")
    try:
        outcome = run.run(
            manifests,
            fleet,
            places,
            lambda p: sessions.client("iot", p.role_arn, p.account_id, p.region),
            settings,
            things,
            lambda line: say(line, to_err=True),
        )
    except AwsError as error:
        kept = (
            f"; the PEMs fetched so far are kept under {manifests / STAGING}: run fleet import again to finish"
            if (manifests / STAGING).is_dir()
            else ""
        )
        fail(f"fleet import: could not read AWS: {error}\nThe manifests are as they were{kept}.")
    report.print_report(out, outcome, manifests.resolve().parent, say)
