"""The Pulumi program: load the manifests, survey AWS once, declare resources.

A manifest problem, or a revoked certificate the manifests would reactivate,
stops the program before any resource is declared, so such a run touches no
account. Drift found by the survey is printed, object by object, and handed
to the resource that reconciles it, so `pulumi preview --expect-no-changes`
fails naming that resource.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from fleet import drift, guard
from fleet.aws.regions import iot_regions
from fleet.aws.session import shared_factory
from fleet.manifest import ManifestError, load_fleet
from fleet.providers.ca_placement import CaPlacement
from fleet.providers.device_certificates import DeviceCertificates
from fleet.providers.policy import IotPolicy
from fleet.survey import survey


def run() -> None:
    config = pulumi.Config("fleet")
    manifests = Path(config.get("manifests") or "manifests")
    try:
        # Messages name files as "manifests/cas.yaml", wherever the folder is.
        fleet = load_fleet(manifests, known_regions=iot_regions(), display_root=manifests.resolve().parent)
    except ManifestError as error:
        raise pulumi.RunError(str(error)) from None
    seen = survey(fleet, shared_factory())
    refusals = guard.refusals(fleet, seen)
    if refusals:
        raise pulumi.RunError("\n".join(["refusing to run; nothing was changed:", *refusals]))
    findings = drift.find(fleet, seen)
    resources = [*(p.resource_name for p in fleet.policies), *(c.resource_name for c in fleet.ca_placements),
                 *(g.resource_name for g in fleet.certificate_groups)]
    for name in resources:
        # On applied manifests this is drift; on a branch, also the change to come.
        for line in findings.lines_for(name, left_out=drift.MISSING):
            pulumi.log.warn(f"AWS differs from the manifests: {line}")

    policies = {
        (p.name, p.account, p.region): IotPolicy(p, findings.lines_for(p.resource_name),
                                                 findings.detach.get(p.resource_name, []))
        for p in fleet.policies
    }
    placements = {}
    for spec in fleet.ca_placements:
        # Policies first: auto-activation attaches them.
        needs = [policies[(p, spec.account, spec.region)] for p in spec.activation_policies or ()]
        name = spec.resource_name
        placements[name] = CaPlacement(
            spec, str(manifests), findings.lines_for(name), findings.activate.get(name, []), findings.radius.get(name),
            pulumi.ResourceOptions(depends_on=needs))
    for group in fleet.certificate_groups:
        # Declared dependencies give the right order both ways: CA and policies
        # before the certificates on create; certificates first on delete.
        group_needs: list[pulumi.Resource] = [policies[(p, group.account, group.region)] for p in group.policies]
        if group.ca:
            group_needs.append(placements[f"{group.ca}.{group.account}.{group.region}"])
        DeviceCertificates(group, str(manifests), findings.lines_for(group.resource_name),
                           pulumi.ResourceOptions(depends_on=group_needs))

    pulumi.export("ca_placements", {name: placement.status for name, placement in placements.items()})
