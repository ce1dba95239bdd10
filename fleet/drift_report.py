"""`fleet drift` output: a table for people, JSON for machines."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from fleet.drift import Drift, by_kind


def print_table(console: Console, drift: list[Drift]) -> None:
    if not drift:
        console.print("No drift: AWS matches the manifests.", highlight=False)
        return
    table = Table(title=f"Drift: {len(drift)} difference(s) between AWS and the manifests", title_justify="left")
    for column in ("account", "region", "object", "kind", "AWS has", "manifests"):
        table.add_column(column, overflow="fold")
    for item in drift:
        table.add_row(item.account, item.region, item.subject, item.kind, item.aws, item.manifests)
    console.print(table)
    console.print(", ".join(f"{count} {kind}" for kind, count in by_kind(drift).items()), highlight=False)


def as_json(drift: list[Drift]) -> str:
    document = {"drift": [item.as_dict() for item in drift], "counts": by_kind(drift)}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
