"""What every command shares: the app, the consoles, loading the manifests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from fleet.manifest import Fleet, ManifestError, load_fleet

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__, context_settings={"help_option_names": ["-h", "--help"]}
)
app.info.help = "fleet: GitOps for AWS IoT certificate infrastructure (manifests, revocations, reviews, drift)."
# Tables keep whole certificate ids when piped into a CI log (rich assumes 80 columns there).
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

ManifestsOption = Annotated[Path, typer.Option("--manifests", "-m", help="folder of the YAML manifests")]


def say(text: str, *, to_err: bool = False) -> None:
    """A line as it is: no console markup, no highlighting."""
    (err if to_err else out).print(text, markup=False, highlight=False, soft_wrap=True)


def fail(text: str) -> NoReturn:
    say(text, to_err=True)
    raise typer.Exit(1)


def load(
    manifests: Path,
    *,
    unrecorded_ok: bool = False,
    require_keys: bool = False,
    observe: Callable[[str, Any], None] | None = None,
    expired_ok: bool = False,
) -> Fleet:
    """The manifests as a Fleet, checked against the revocation ledger's history
    when they are in a git work tree (a shallow clone deepened, or refused); on
    a problem, print every one and exit 1 (nothing was called). ``observe``,
    ``expired_ok``: see fleet.manifest.load_fleet."""
    try:
        return read(
            manifests, unrecorded_ok=unrecorded_ok, require_keys=require_keys, observe=observe, expired_ok=expired_ok
        )
    except ManifestsUnreadable as error:
        fail(str(error))


class ManifestsUnreadable(Exception):
    """The manifests have problems (each at its file and line), or the ledger's history cannot be read."""


def read(
    manifests: Path,
    *,
    unrecorded_ok: bool = False,
    require_keys: bool = False,
    observe: Callable[[str, Any], None] | None = None,
    expired_ok: bool = False,
) -> Fleet:
    """As ``load``, raising ManifestsUnreadable instead of exiting (for a command that goes on running)."""
    from fleet.aws.regions import iot_regions  # botocore's region data; makes no call
    from fleet.manifest import ledger_history as history

    try:
        past = history.fingerprints(manifests, note=lambda text: say(f"note: {text}", to_err=True))
    except history.HistoryUnavailable as error:
        raise ManifestsUnreadable(f"cannot read the revocation ledger's history: {error}") from error
    try:
        return load_fleet(
            manifests,
            known_regions=iot_regions(),
            display_root=manifests.resolve().parent,
            ledger_history=past or frozenset(),
            unrecorded_ok=unrecorded_ok,
            repository=history.work_tree(manifests),
            require_keys=require_keys,
            observe=observe,
            expired_ok=expired_ok,
        )
    except ManifestError as error:
        raise ManifestsUnreadable(str(error)) from error


def in_git(manifests: Path) -> bool:
    from fleet.manifest import ledger_history as history

    return history.work_tree(manifests) is not None


def survey_of(fleet: Fleet, all_pending_pems: bool = False) -> Any:
    """The program's look at AWS (read-only calls), or a clear failure."""
    from fleet.aws.errors import AwsError
    from fleet.aws.session import shared_factory
    from fleet.model.survey import survey

    try:
        return survey(fleet, shared_factory(), all_pending_pems, elsewhere=ledger_places(fleet))
    except AwsError as error:
        fail(f"could not read AWS: {error}")


def ledger_places(fleet: Fleet) -> dict[tuple[str, str], str]:
    roles = {a.id: a.role_arn for a in fleet.accounts} | dict(fleet.ledger.roles)
    return {
        (account_id, region): roles[account_id]
        for known in fleet.ledger.revocations.values()
        for account_id, region in known.places
        if account_id in roles
    }


def wrote(changed: list[Path]) -> None:
    say(f"\nWrote {len(changed)} change(s); review them, commit, and open a pull request:")
    for path in changed:
        say(f"  {path}")


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _print_version(asked: bool) -> None:
    if asked:
        from importlib import metadata

        from fleet import DISTRIBUTION

        say(f"fleet {metadata.version(DISTRIBUTION)} (pulumi SDK {metadata.version('pulumi')})")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="print fleet's version (pin it in requirements.txt) and exit",
        ),
    ] = False,
) -> None:
    """fleet: GitOps for AWS IoT certificate infrastructure (manifests, revocations, reviews, drift)."""
