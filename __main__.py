"""Pulumi entry point: fleet as a component (fleet.component), its outputs exported."""

from fleet.component import Fleet

Fleet("fleet").export()
