"""`fleet drift` output: a table for people, JSON for machines."""

from __future__ import annotations

import json

from rich.console import Console

from fleet.reports.console_table import print_table
from fleet.reports.drift import Drift, by_kind


def print_report(console: Console, drift: list[Drift]) -> None:
    if print_table(
        console,
        f"Drift: {len(drift)} difference(s) between AWS and the manifests",
        ("account", "region", "object", "kind", "AWS has", "manifests"),
        ((d.account, d.region, d.subject, d.kind, d.aws, d.manifests) for d in drift),
        empty="No drift: AWS matches the manifests.",
    ):
        console.print(", ".join(f"{count} {kind}" for kind, count in by_kind(drift).items()), highlight=False)


def as_json(drift: list[Drift]) -> str:
    document = {"drift": [item.as_dict() for item in drift], "counts": by_kind(drift)}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
