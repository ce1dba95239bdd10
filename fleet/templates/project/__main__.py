"""Pulumi entry point: fleet reads manifests/ and declares every resource."""

from fleet.program import run

run()
