"""fleet as a Pulumi component: any Python program can declare it beside its own
resources, and read (or export, for other stacks' StackReference) what it made.

    from fleet.component import Fleet
    Fleet("fleet").export()

is a fleet project's whole program. ``places`` is, per account and region
("ACCOUNT/REGION", the manifests' account name), the CAs placed there (id and
ARN), the policies (ARN) and the just-in-time activation function's ARN
where a placement has auto_activation; each value resolves once the
resource that holds it is in AWS. The resources fleet declares (fleet.program.declare)
are its children, aliased to the top-level resources they were before, so a
stack made by an earlier fleet changes nothing but gaining the component.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pulumi

from fleet.jitr.role import function_arn
from fleet.model.declarations import CaPlacementInputs, Inputs, JitrInputs, PolicyInputs
from fleet.program.declare import decide, declare_resources

TYPE = "fleet:index:Fleet"
OUTPUT = "places"  # the stack output export() writes
DEPLOY_JITR = "deployJitrFunction"  # the project's config: false leaves the just-in-time function to the team


class Fleet(pulumi.ComponentResource):
    places: pulumi.Output[dict[str, Any]]
    jitr_configuration: pulumi.Output[str]

    def __init__(
        self,
        name: str = "fleet",
        manifests: str | Path | None = None,
        project_dir: str | Path | None = None,
        deploy_jitr: bool | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``manifests``: the folder (default: the project's `manifests` config, else manifests/);
        ``project_dir``: the Pulumi project's folder (default: the working directory);
        ``deploy_jitr``: False: fleet deploys no just-in-time function (and removes those it did);
        ``jitr_configuration`` still holds the configuration for the team's own (default: the
        project's `deployJitrFunction` config, else True)."""
        if deploy_jitr is None:
            deploy_jitr = pulumi.Config().get_bool(DEPLOY_JITR) is not False
        # Refused before the component itself is registered: a refused run leaves nothing in the state.
        decided = decide(
            Path(manifests) if manifests is not None else None,
            Path(project_dir) if project_dir is not None else None,
            deploy_jitr,
        )
        super().__init__(TYPE, name, None, opts)
        declared = declare_resources(decided, self)
        self.places = pulumi.Output.from_input(by_place(declared.resources))
        self.jitr_configuration = pulumi.Output.from_input(declared.jitr_configuration)
        self.register_outputs({OUTPUT: self.places, "jitr_configuration": self.jitr_configuration})

    def export(self, name: str = OUTPUT) -> None:
        """Make ``places`` a stack output (for `pulumi stack output`, and other stacks' StackReference)."""
        pulumi.export(name, self.places)


def by_place(resources: tuple[tuple[Inputs, pulumi.CustomResource], ...]) -> dict[str, dict[str, Any]]:
    places: dict[str, dict[str, Any]] = defaultdict(lambda: {"cas": {}, "policies": {}})
    for inputs, resource in resources:
        account_id, region = inputs.place
        values: Any = inputs
        place = places[f"{values.account}/{region}"]
        place.update(account_id=account_id, region=region)
        partition = str(values.role_arn).split(":")[1]
        arn = f"arn:{partition}:iot:{region}:{account_id}"
        # Each value waits for its resource: whoever uses it comes after fleet made it.
        if isinstance(inputs, CaPlacementInputs):
            ca_arn = f"{arn}:cacert/{inputs.certificate_id}"
            place["cas"][inputs.ca] = {"id": resource.id, "arn": _once(resource, ca_arn)}
        elif isinstance(inputs, PolicyInputs):
            place["policies"][inputs.policy] = _once(resource, f"{arn}:policy/{inputs.policy}")
        elif isinstance(inputs, JitrInputs):
            place["jitr_function_arn"] = _once(resource, function_arn(partition, account_id, region))
    return {key: places[key] for key in sorted(places)}


def _once(resource: pulumi.CustomResource, value: str) -> pulumi.Output[str]:
    """``value``, known once ``resource`` is made (so what uses it depends on the resource)."""
    return resource.id.apply(lambda _: value)
