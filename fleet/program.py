"""The Pulumi program: load the manifests, declare one resource per CA placement.

A manifest problem stops the program before any resource is declared, so a
run that fails validation touches no account.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from fleet.aws.regions import iot_regions
from fleet.manifest import ManifestError, load_fleet
from fleet.providers.ca_placement import CaPlacement


def run() -> None:
    config = pulumi.Config("fleet")
    manifests = Path(config.get("manifests") or "manifests")
    try:
        fleet = load_fleet(manifests, known_regions=iot_regions())
    except ManifestError as error:
        raise pulumi.RunError(str(error)) from None

    placements = {spec.resource_name: CaPlacement(spec) for spec in fleet.ca_placements}
    pulumi.export("ca_placements", {name: placement.status for name, placement in placements.items()})
