"""Checks that need no AWS call (`fleet validate`, `fleet expiry`, `fleet schema`, `fleet iam`), except
the KMS keys `fleet validate --require-keys` asks about."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.base import ManifestsOption, app, count, fail, in_git, load, out, say
from fleet.manifest import Fleet
from fleet.manifest.model import ManifestFile

BaseOption = Annotated[
    str | None,
    typer.Option(
        "--base", help="a git ref (the pull request's base): refuse a change that removes or alters a ledger entry"
    ),
]


@app.command()
def validate(
    manifests: ManifestsOption = Path("manifests"),
    base: BaseOption = None,
    require_keys: Annotated[
        bool,
        typer.Option(
            "--require-keys",
            help="every DEFAULT-mode CA's private key must be readable and match, and every KMS key "
            "must be the CA's and reachable (asked of KMS; the apply job)",
        ),
    ] = False,
) -> None:
    """Check the manifests (schema, files, AWS rules, the revocation ledger and its history)
    without calling AWS; with --base, also that the ledger only grew since that ref; with
    --require-keys, also every CA key the apply may sign with (KMS keys through GetPublicKey)."""
    shrunk = ledger_changes(base, manifests) if base is not None else []
    if shrunk:  # said first, and whatever else is wrong
        say(
            "\n".join(
                [f"the revocation ledger only grows, but since {base} this change:", *(f"  {p}" for p in shrunk)]
            ),
            to_err=True,
        )
    fleet = load(manifests, require_keys=require_keys)
    for warning in fleet.warnings:
        say(f"warning: {warning}", to_err=True)
    unusable = kms_keys_unusable(fleet) if require_keys else []
    if unusable:
        say(
            "\n".join(
                [
                    f"{count(len(unusable), 'KMS key')} cannot sign the verification certificates the apply "
                    "may need; nothing was changed:",
                    *(f"  {p}" for p in unusable),
                ]
            ),
            to_err=True,
        )
    if shrunk or unusable:
        raise typer.Exit(1)
    groups = {g.group: len(g.certificates) for g in fleet.certificate_groups}
    revoked = len(fleet.ledger.revocations)
    say(
        f"{manifests}: valid: {count(len(fleet.accounts), 'account')}, "
        f"{count(len({p.ca for p in fleet.ca_placements}), 'CA')} in "
        f"{count(len(fleet.ca_placements), 'placement')}, "
        f"{count(sum(groups.values()), 'device certificate')} in {count(len(groups), 'group')} "
        f"({count(len(fleet.certificate_groups), 'placement')}), "
        f"{count(len({p.name for p in fleet.policies}), 'policy', 'policies')}"
        + (f", {count(revoked, 'revocation')} in the ledger" if revoked else "")
    )
    if not in_git(manifests):
        say(
            f"note: {manifests} is not in a git work tree, so the revocation ledger's history was not checked",
            to_err=True,
        )


def kms_keys_unusable(fleet: Fleet) -> list[str]:
    """Each KMS key a DEFAULT-mode CA names that cannot sign for it, asked of KMS (GetPublicKey)."""
    from fleet.aws.session import shared_factory
    from fleet.providers import custody

    return custody.kms_problems(fleet, shared_factory())


@app.command()
def expiry(
    manifests: ManifestsOption = Path("manifests"),
    days: Annotated[int, typer.Option("--days", min=0, max=36500, help="how far ahead to look")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for machines")] = False,
) -> None:
    """List the CA and device certificates that expire within --days days (30) or have expired, per
    account and region, from the manifests alone (no AWS call); exit 1 when there is any, 0 when none."""
    import datetime

    from fleet.reports import expiry as expiring

    now = datetime.datetime.now(datetime.UTC)
    until = expiring.horizon(now, days)
    dates: dict[str, datetime.datetime] = {}

    def note(fingerprint: str, certificate: Any) -> None:
        if certificate.not_valid_after_utc <= until:
            dates[fingerprint] = certificate.not_valid_after_utc

    fleet = load(manifests, observe=note, expired_ok=True)
    found = expiring.find(fleet, dates, now, days)
    if as_json:
        sys.stdout.write(expiring.as_json(found, now))  # verbatim: no console markup
    else:
        expiring.print_report(out, found, now, days)
    raise typer.Exit(1 if found else 0)


def ledger_changes(base: str, manifests: Path) -> list[str]:
    """What the change removes or alters of the ledger at ``base``; a failure if git cannot tell."""
    from fleet.manifest import ledger_history as history

    try:
        return history.removed_since(base, manifests)
    except history.HistoryUnavailable as error:
        fail(f"cannot compare the revocation ledger with {base}: {error}")


@app.command()
def schema() -> None:
    """Print the manifest JSON Schema (committed as schema/manifest.schema.json)."""
    sys.stdout.write(json_schema())


def json_schema() -> str:
    return json.dumps(ManifestFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


@app.command()
def iam(
    manifests: ManifestsOption = Path("manifests"),
    reader: Annotated[bool, typer.Option("--reader", help="the read-only role of previews and drift checks")] = False,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="instead, a CloudFormation template of docs/production.md: 'accounts' (the roles in "
            "every managed account, as a StackSet) or 'ci' (the CI account's roles and state bucket)",
        ),
    ] = None,
    account_id: Annotated[
        str, typer.Option("--account-id", help="the account the policy's resources are in (default: any)")
    ] = "*",
    region: Annotated[
        str, typer.Option("--region", help="the region the policy's resources are in (default: any)")
    ] = "*",
    guardrail: Annotated[
        bool,
        typer.Option(
            "--guardrail",
            help="instead, the service control policy that lets only the accounts template's roles "
            "change or delete device certificates (docs/iam-guardrail-scp.json)",
        ),
    ] = False,
) -> None:
    """Print the IAM policy fleet's deployer role needs in each account (docs/iam-deployer-policy.json),
    or with --reader the reader role's (docs/iam-reader-policy.json). Each action is allowed on the
    resources AWS lets a policy name for it, in any account and region (the accounts template pins
    the account); with the KMS keys the manifests name as CA keys (`private_key: {kms: ARN}`), use
    of exactly those."""
    from fleet.scaffold import iam as policies
    from fleet.scaffold import production

    if guardrail:
        sys.stdout.write(policies.as_text(production.guardrail_scp()))
        return
    if template is not None:
        if template not in production.TEMPLATES:
            fail(f"fleet iam: --template is one of {', '.join(production.TEMPLATES)}, not {template!r}")
        sys.stdout.write(production.as_yaml(template))
        return
    if not re.fullmatch(r"\*|[0-9]{12}", account_id) or not re.fullmatch(r"\*|[a-z]{2}(-[a-z]+)+-[0-9]", region):
        fail(
            f"fleet iam: --account-id is 12 digits and --region a region name (or '*' for any), not "
            f"{account_id!r} and {region!r}"
        )
    arns = policies.Arns(account=account_id, region=region)
    keys = policies.kms_keys(load(manifests)) if manifests.is_dir() else []
    sys.stdout.write(
        policies.as_text(policies.reader_policy(arns, keys) if reader else policies.deployer_policy(arns, ca_keys=keys))
    )
