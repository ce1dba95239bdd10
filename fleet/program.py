"""The Pulumi program: load the manifests, look at AWS once, refuse what
must not happen, declare the resources.

A manifest problem, or a revoked certificate the manifests would make usable,
stops the program before any resource is declared, so such a run touches no
account. Everything else is a declaration (fleet.resources); each resource
reads what it owns at refresh and converges on up.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from fleet import guard
from fleet.aws.errors import AwsError
from fleet.aws.regions import iot_regions
from fleet.aws.session import shared_factory
from fleet.manifest import ManifestError, load_fleet
from fleet.providers.ca_placement import CaPlacement
from fleet.providers.device_certificates import DeviceCertificates
from fleet.providers.policy import IotPolicy
from fleet.resources import declare
from fleet.survey import survey


def run() -> None:
    config = pulumi.Config("fleet")
    manifests = Path(config.get("manifests") or "manifests")
    try:
        # Messages name files as "manifests/cas.yaml", wherever the folder is.
        fleet = load_fleet(manifests, known_regions=iot_regions(), display_root=manifests.resolve().parent)
    except ManifestError as error:
        raise pulumi.RunError(str(error)) from None
    try:
        seen = survey(fleet, shared_factory())
    except AwsError as error:
        raise pulumi.RunError(f"fleet could not read AWS; nothing was changed: {error}") from None
    refusals = guard.refusals(fleet, seen)
    if refusals:
        raise pulumi.RunError("\n".join(["refusing to run; nothing was changed:", *refusals]))

    declared = declare(fleet, seen, Path.cwd())
    policies = {p.resource_name: IotPolicy(p) for p in declared.policies}
    cas = {c.resource_name: CaPlacement(c) for c in declared.cas}
    for shard in declared.shards:
        # CAs and policies first on create (registration and attachment need them),
        # and the certificates first on delete.
        needs: list[pulumi.Resource] = [
            *(r for p, r in zip(declared.policies, policies.values(), strict=True) if p.place == shard.place),
            *(r for c, r in zip(declared.cas, cas.values(), strict=True) if c.place == shard.place),
        ]
        DeviceCertificates(shard, pulumi.ResourceOptions(depends_on=needs))
