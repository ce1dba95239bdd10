"""The Pulumi program: load the manifests, check revocations, declare resources.

A manifest problem, or a revoked certificate the manifests would reactivate,
stops the program before any resource is declared, so such a run touches no
account.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from fleet.aws.regions import iot_regions
from fleet.aws.session import shared_factory
from fleet.guard import observe
from fleet.manifest import ManifestError, load_fleet
from fleet.providers.ca_placement import CaPlacement
from fleet.providers.device_certificates import DeviceCertificates
from fleet.providers.policy import IotPolicy


def run() -> None:
    config = pulumi.Config("fleet")
    manifests = Path(config.get("manifests") or "manifests")
    try:
        # Messages name files as "manifests/cas.yaml", wherever the folder is.
        fleet = load_fleet(manifests, known_regions=iot_regions(), display_root=manifests.resolve().parent)
    except ManifestError as error:
        raise pulumi.RunError(str(error)) from None
    observed = observe(fleet, shared_factory())
    if observed.refusals:
        raise pulumi.RunError("\n".join(["refusing to run; nothing was changed:", *observed.refusals]))

    placements = {spec.resource_name: CaPlacement(spec, str(manifests)) for spec in fleet.ca_placements}
    policies = {(p.name, p.account, p.region): IotPolicy(p) for p in fleet.policies}
    for group in fleet.certificate_groups:
        # Declared dependencies give the right order both ways: CA and policies
        # before the certificates on create; certificates first on delete.
        needs: list[pulumi.Resource] = [policies[(p, group.account, group.region)] for p in group.policies]
        if group.ca:
            needs.append(placements[f"{group.ca}.{group.account}.{group.region}"])
        DeviceCertificates(group, str(manifests), observed.drift(group), pulumi.ResourceOptions(depends_on=needs))

    pulumi.export("ca_placements", {name: placement.status for name, placement in placements.items()})
