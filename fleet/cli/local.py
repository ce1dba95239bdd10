"""`fleet local`: try a fleet against a local AWS endpoint (fleet.operations.local)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from fleet.cli.base import ManifestsOption, ManifestsUnreadable, app, count, fail, load, read, say

WATCH_SECONDS = 1.0


class Ended(Exception):
    """A signal asked `fleet local` to end."""


def _end(signum: int, _frame: FrameType | None) -> None:
    raise Ended(signal.Signals(signum).name)


@app.command()
def local(
    manifests: ManifestsOption = Path("manifests"),
    port: Annotated[int, typer.Option("--port", help="the endpoint's port on 127.0.0.1 (0: any free one)")] = 4566,
    folder: Annotated[
        Path, typer.Option("--folder", help="where the env file, AWS CLI profiles and Pulumi state go")
    ] = Path(".fleet-local"),
) -> None:
    """Start a local AWS endpoint (in memory; Ctrl-C ends it) and print how to run `pulumi` and the AWS CLI
    against it, in each account of the manifests. Accounts added to the manifests while it runs get their
    AWS CLI profile at once."""
    from fleet.operations import local as endpoint

    fleet = load(manifests)
    left = endpoint.stale_state(folder)
    for name in (signal.SIGTERM, signal.SIGHUP):  # ended like Ctrl-C: the endpoint with it
        signal.signal(name, _end)
    try:
        process, url = endpoint.start(port, folder)
    except endpoint.LocalUnavailable as error:
        fail(f"fleet local: {error}")
    try:
        session = endpoint.session_name()
        accounts = [(a.name, a.role_arn) for a in fleet.accounts]
        env = endpoint.write(folder, url, accounts, session)
        if left:
            stacks = ", ".join(f"{name} ({count(n, 'resource')})" for name, n in left.items())
            say(
                f"{folder / 'state'} holds the state of an earlier endpoint: {stacks}. This endpoint starts "
                "empty (the last one held everything in memory), so those resources are gone from AWS here. "
                "Run `pulumi up --refresh --yes` once: it finds them gone and registers them again. Or start "
                f"afresh: `rm -rf {folder / 'state'}`, then `pulumi stack select --create local`.\n"
            )
        say(_instructions(url, env, folder, [name for name, _ in accounts]))
        _serve(process, manifests, folder, url, session, accounts)
    except (KeyboardInterrupt, Ended):
        endpoint.stop(process)
        say("the local endpoint stopped; everything it held is gone")
    finally:
        endpoint.stop(process)  # however this ends: nothing is left holding the port


def _instructions(url: str, env: Path, folder: Path, accounts: list[str]) -> str:
    first = accounts[0] if accounts else "ACCOUNT"
    return (
        f"A local AWS endpoint listens on {url}: it holds everything in memory, and Ctrl-C ends it.\n"
        f"In another shell, in this project:\n\n"
        f"  source {env}\n"
        f"  pulumi stack select --create local\n"
        f"  pulumi up --yes\n"
        f"  aws --profile {first} iot list-ca-certificates\n\n"
        f"{env} points fleet, Pulumi (a file backend under {folder}/state) and the AWS CLI at the endpoint, "
        f"with credentials only it accepts; {folder}/aws-config has one AWS CLI profile per account "
        f"({', '.join(accounts)}), each assuming the account's deployer role, and gets one for each account "
        "the manifests add while this runs.\n"
        "ready"
    )


def _serve(
    process: subprocess.Popen[str],
    manifests: Path,
    folder: Path,
    url: str,
    session: str,
    accounts: list[tuple[str, str]],
) -> None:
    """Until the endpoint ends (or a signal ends this): each time the manifests change, the
    AWS CLI profiles follow their accounts."""
    from fleet.operations import local as endpoint

    stamp = endpoint.manifests_stamp(manifests)
    while process.poll() is None:
        time.sleep(WATCH_SECONDS)
        now = endpoint.manifests_stamp(manifests)
        if now == stamp:
            continue
        stamp = now
        try:
            changed = [(a.name, a.role_arn) for a in read(manifests).accounts]
        except ManifestsUnreadable as error:
            say(f"the manifests changed and have problems; the AWS CLI profiles stay as they were:\n{error}")
            continue
        if changed != accounts:
            endpoint.write_profiles(folder, url, changed, session)
            added = [name for name, role in changed if (name, role) not in accounts]
            removed = [name for name, role in accounts if (name, role) not in changed]
            accounts = changed
            say(
                f"the manifests' accounts changed: {folder}/aws-config now has a profile for "
                f"{', '.join(name for name, _ in accounts) or 'no account'}"
                + (f" (new: {', '.join(added)})" if added else "")
                + (f" (gone: {', '.join(removed)})" if removed else "")
                + "; no restart needed"
            )
    fail(f"fleet local: the local endpoint ended unexpectedly (exit {process.poll()}); everything it held is gone")
