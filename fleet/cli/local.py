"""`fleet local`: try a fleet against a local AWS endpoint (fleet.local)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.base import ManifestsOption, app, fail, load, say


@app.command()
def local(
    manifests: ManifestsOption = Path("manifests"),
    port: Annotated[int, typer.Option("--port", help="the endpoint's port on 127.0.0.1 (0: any free one)")] = 4566,
    folder: Annotated[Path, typer.Option("--folder", help="where the env file, AWS CLI profiles and Pulumi state "
                                                          "go")] = Path(".fleet-local"),
) -> None:
    """Start a local AWS endpoint (in memory; Ctrl-C ends it) and print how to run `pulumi` and the AWS CLI
    against it, in each account of the manifests."""
    from fleet import local as endpoint

    fleet = load(manifests)
    try:
        process, url = endpoint.start(port)
    except endpoint.LocalUnavailable as error:
        fail(f"fleet local: {error}")
    env = endpoint.write(folder, url, [(a.name, a.role_arn) for a in fleet.accounts])
    first = fleet.accounts[0].name if fleet.accounts else "ACCOUNT"
    say(f"A local AWS endpoint listens on {url}: it holds everything in memory, and Ctrl-C ends it.\n"
        f"In another shell, in this project:\n\n"
        f"  source {env}\n"
        f"  pulumi stack select --create local\n"
        f"  pulumi up --yes\n"
        f"  aws --profile {first} iot list-ca-certificates\n\n"
        f"{env} points fleet, Pulumi (a file backend under {folder}/state) and the AWS CLI at the endpoint, "
        f"with credentials only it accepts; {folder}/aws-config has one AWS CLI profile per account "
        f"({', '.join(a.name for a in fleet.accounts)}), each assuming the account's deployer role.\n"
        "ready", )
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)
        say("the local endpoint stopped; everything it held is gone")
