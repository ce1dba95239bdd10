"""The fleet command line: checks that need no Pulumi and no AWS writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

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
    out.print(
        f"{manifests}: valid: {len(fleet.accounts)} accounts, "
        f"{len({p.ca for p in fleet.ca_placements})} CAs in {len(fleet.ca_placements)} placements",
        markup=False, highlight=False, soft_wrap=True,
    )


@app.command()
def schema() -> None:
    """Print the manifest JSON Schema (committed as schema/manifest.schema.json)."""
    out.print(json_schema(), markup=False, highlight=False, soft_wrap=True, end="")


def json_schema() -> str:
    return json.dumps(ManifestFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    app()
