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


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def main() -> None:
    app()
