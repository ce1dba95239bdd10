"""Manifests: the YAML model, its loading and checking. Imports neither boto3 nor pulumi."""

from fleet.manifest.desired import AccountSpec, CaPlacementSpec, Fleet
from fleet.manifest.loader import load_fleet
from fleet.manifest.problems import ManifestError, Problem

__all__ = ["AccountSpec", "CaPlacementSpec", "Fleet", "ManifestError", "Problem", "load_fleet"]
