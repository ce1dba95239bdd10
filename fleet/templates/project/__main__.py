"""Pulumi entry point: fleet reads manifests/ and declares every resource (fleet.component)."""

from fleet.component import Fleet

Fleet("fleet").export()
