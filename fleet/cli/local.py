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


class _Asked:
    """Whether a signal asked `fleet local` to end. The handler only notes it, and the command looks
    between its steps: an exception raised from a handler lands wherever the process happens to be,
    so it came out of the endpoint's start as a traceback, and inside the subprocess module's own
    bookkeeping it can leave a lock held that every later wait for the endpoint blocks on."""

    to_end = False


def _note(_signum: int, _frame: FrameType | None) -> None:
    _Asked.to_end = True


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
    _Asked.to_end = False
    for name in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # Ctrl-C or not: the endpoint ends with it
        signal.signal(name, _note)
    try:
        process, url = endpoint.start(port, folder)
    except endpoint.LocalUnavailable as error:
        if _Asked.to_end:  # Ctrl-C reaches the starting endpoint too, which then never says it listens
            say("the local endpoint stopped before it started")
            return
        fail(f"fleet local: {error}")
    try:
        if _Asked.to_end:  # while the endpoint started
            return
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
    finally:
        endpoint.stop(process)  # however this ends: nothing is left holding the port
        if _Asked.to_end:
            say("the local endpoint stopped; everything it held is gone")


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
    """Until the endpoint ends (or a signal asks this to end): each time the manifests change, the
    AWS CLI profiles follow their accounts."""
    from fleet.operations import local as endpoint

    stamp = endpoint.manifests_stamp(manifests)
    while process.poll() is None:
        time.sleep(WATCH_SECONDS)  # a signal's handler runs within it; the sleep then ends on time
        if _Asked.to_end:
            return
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
