"""`fleet recover`: make a stack usable again after an interrupted apply (fleet.operations.recovery)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.base import app, fail, say


@app.command()
def recover(
    stack: Annotated[str, typer.Option("--stack", "-s", help="the Pulumi stack")],
    cwd: Annotated[Path, typer.Option("--cwd", "-C", help="the Pulumi project's folder")] = Path("."),
    exclusive: Annotated[
        bool,
        typer.Option(
            "--exclusive",
            help="this job is the only one that can run the stack (a CI concurrency group): a lock "
            "taken on another machine is stale",
        ),
    ] = False,
    stale_after: Annotated[
        float, typer.Option("--stale-after", help="seconds after which a lock taken on another machine is stale anyway")
    ] = 6 * 3600,
    wait: Annotated[
        float, typer.Option("--wait", help="seconds to wait for fleet processes of an interrupted run to end")
    ] = 20.0,
) -> None:
    """After an interrupted `pulumi up`: once nothing still works on the stack, remove its stale lock and the
    operations it left pending, so the next `pulumi up` converges in one run. Safe to run before every up:
    with nothing to clear it changes nothing. Exit 1, clearing nothing, while a run may still hold the stack."""
    from fleet.operations.recovery import Pulumi, RecoveryRefused
    from fleet.operations.recovery import recover as run_recovery

    try:
        done = run_recovery(Pulumi(cwd, stack), exclusive=exclusive, stale_after=stale_after, wait=wait, say=say)
    except RecoveryRefused as error:
        fail(f"fleet recover: {error}")
    say(f"stack {stack}: " + ("recovered; the next `pulumi up` converges" if done.anything else "nothing to recover"))
