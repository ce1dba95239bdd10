"""Pulumi entry point: all logic lives in fleet.program."""

from fleet.program import run

run()
