"""Commands that read AWS (never write it): `fleet drift`, `fleet pending`,
`fleet registration-codes`, `fleet jitr-config`. Their adoptions write manifest changes (and the ledger's
entries for what they adopt as REVOKED) to review, never to AWS."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.base import ManifestsOption, app, fail, load, out, say, survey_of, wrote


@app.command()
def drift(
    manifests: ManifestsOption = Path("manifests"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
    adopt_revocations: Annotated[
        bool,
        typer.Option(
            "--adopt-revocations",
            help="write certificates revoked in AWS outside fleet into the manifests (and the "
            "revocation ledger) as REVOKED",
        ),
    ] = False,
) -> None:
    """Compare AWS with the manifests, as `pulumi preview --refresh` does; exit 7 on drift, 0 without
    (and 0 once --adopt-revocations has written its change)."""
    from fleet.aws.errors import AwsError
    from fleet.aws.functions import Functions
    from fleet.aws.listing import Listings
    from fleet.aws.roles import Roles
    from fleet.aws.session import shared_factory
    from fleet.aws.topic_rules import TopicRules
    from fleet.model import observe
    from fleet.model.declarations import JitrInputs
    from fleet.reports import drift_report
    from fleet.reports.drift import find
    from fleet.revocation import adoption, ledger

    fleet = load(manifests)
    seen = survey_of(fleet)
    factory = shared_factory()
    listings = Listings(
        lambda role, account_id, region: factory.client("iot", role, account_id, region), factory.writes
    )

    def jitr_for(inputs: JitrInputs) -> JitrInputs | None:
        def client(service: str) -> Any:
            return factory.client(service, inputs.role_arn, inputs.account_id, inputs.region)

        return observe.jitr(
            Functions(client("lambda"), inputs.where),
            Roles(client("iam"), inputs.where),
            TopicRules(client("iot"), inputs.where),
            inputs,
        )

    try:
        found = find(
            fleet,
            seen,
            lambda inputs: listings.of(
                inputs.role_arn,  # type: ignore[attr-defined]
                *inputs.place,
                inputs.where,
            ),
            Path.cwd(),
            jitr_for,
        )
    except AwsError as error:
        fail(f"could not read AWS: {error}")
    if as_json:
        sys.stdout.write(drift_report.as_json(found))  # verbatim: no console markup or emoji codes
    else:
        drift_report.print_report(out, found)
    if adopt_revocations:
        revoked = adoption.found(fleet, seen)
        changed = adoption.adopt(manifests, revoked)
        changed += ledger.record(manifests, fleet, adoption.batches(manifests, revoked))
        wrote(sorted(set(changed)))
        raise typer.Exit(0)
    raise typer.Exit(7 if found else 0)


@app.command()
def pending(
    manifests: ManifestsOption = Path("manifests"),
    adopt: Annotated[bool, typer.Option("--adopt", help="write them into the manifests (a change to review)")] = False,
) -> None:
    """List certificates devices registered themselves (PENDING_ACTIVATION) under
    each managed CA, account and region, with fleet's activation decision."""
    from fleet.reports import pending as pending_registrations
    from fleet.revocation import ledger

    fleet = load(manifests)
    found = pending_registrations.find(fleet, survey_of(fleet, all_pending_pems=True))
    pending_registrations.print_report(out, found)
    if adopt and found:
        changed = pending_registrations.adopt(manifests, found)
        changed += ledger.record(manifests, fleet, pending_registrations.batches(found))
        wrote(sorted(set(changed)))
        for item in found:
            if item.verdict.refused_for in pending_registrations.UNDECLARABLE:
                say(
                    f"Left out {item.certificate_id} ({item.placement.account}/{item.placement.region}): "
                    f"{item.verdict.reason}; delete it from AWS or revoke it there."
                )


@app.command("registration-codes")
def registration_codes(
    manifests: ManifestsOption = Path("manifests"),
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="print JSON for machines: a list of objects with account_id, region, registration_code, ca"
        ),
    ] = False,
) -> None:
    """List, for each account and region where a DEFAULT-mode CA is still to be registered, the
    registration code its verification certificate must carry: what an offline ceremony signs
    (`verification_certificates:` in the CA's manifest). Read-only."""
    from fleet.aws.errors import AwsError
    from fleet.aws.session import shared_factory
    from fleet.providers import custody
    from fleet.reports.console_table import print_table

    fleet = load(manifests)
    try:
        codes = custody.registration_codes(fleet, survey_of(fleet), shared_factory())
    except AwsError as error:
        fail(f"could not read AWS: {error}")
    if as_json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "account_id": c.account_id,
                        "region": c.region,
                        "registration_code": c.registration_code,
                        "ca": c.ca,
                    }
                    for c in codes
                ],
                indent=2,
            )
            + "\n"
        )
        return
    print_table(
        out,
        f"{len(codes)} registration(s) to sign",
        ("CA", "account", "region", "registration code"),
        ((c.ca, f"{c.account} ({c.account_id})", c.region, c.registration_code) for c in codes),
        empty="No DEFAULT-mode CA is still to be registered.",
    )


@app.command("jitr-config")
def jitr_config(
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write it")] = Path("fleet-jitr.json"),
    manifests: ManifestsOption = Path("manifests"),
) -> None:
    """Write the configuration of the just-in-time activation function (fleet.jitr.handler) as `pulumi up`
    deploys it: CAs with auto_activation, their policies and revocation lists, the revocation ledger's
    fingerprints (its history's too) and every account and region's reader role (docs/just-in-time.md)."""
    from fleet.jitr import configuration

    fleet = load(manifests)
    text = configuration.as_text(
        configuration.configuration(fleet, configuration.revoked_in_manifests(fleet), configuration.places_of(fleet))
    )
    output.write_text(json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    say(f"wrote {output}")
