"""The fleet command line: manifests, revocations, AWS reads and reviews.
Nothing here writes to AWS: that is `pulumi up`'s alone."""

from __future__ import annotations

from fleet.cli import (  # noqa: F401 (each registers its commands)
    audit,
    checks,
    importing,
    local,
    new,
    reads,
    recover,
    review,
    revocations,
)
from fleet.cli.base import app
from fleet.cli.checks import json_schema

__all__ = ["app", "json_schema", "main"]


def main() -> None:
    import sys

    from fleet.settings import Settings, SettingsError

    try:
        Settings.from_env()  # one clear message for a bad setting, before any command starts
    except SettingsError as error:
        sys.stderr.write(f"fleet: {error}\n")
        raise SystemExit(1) from None
    app()
