"""What every fleet resource and provider shares (the Pulumi SDK's differences and
bugs it works around: fleet.providers.pulumi_compat)."""

from __future__ import annotations

from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import DiffResult, ReadResult, Resource, ResourceProvider

from fleet.providers.pulumi_compat import READ_TAKES_INPUTS, pickle_left_as_found

PROVIDER_KEY = "__provider"  # pulumi.dynamic's key for the pickled provider, in inputs and outputs


class FleetResource(Resource):
    def __init__(
        self, provider: ResourceProvider, name: str, props: dict[str, Any], opts: ResourceOptions | None = None
    ):
        with pickle_left_as_found():
            super().__init__(provider, name, props, opts)


def stored(props: dict[str, Any]) -> dict[str, Any]:
    """Properties without pulumi's pickled provider."""
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


def read_result(id_: str, observed: dict[str, Any], facts: dict[str, Any] | None = None) -> ReadResult:
    """What a read found, as outputs and (where the SDK can) as inputs, so the
    engine's diff after a refresh names each key that drifted (`pulumi preview
    --refresh --diff`). With pulumi 3.79 the outputs alone carry it, and each
    provider's diff compares them with the declaration. ``facts``: outputs
    only, never compared (what `fleet review` reads from a refreshed plan)."""
    outputs = {**observed, **(facts or {})}
    if READ_TAKES_INPUTS:
        return ReadResult(id_, outputs, dict(observed))
    return ReadResult(id_, outputs)


def diff_result(changed: bool, replaces: list[str], delete_before_replace: bool = False) -> DiffResult:
    """``changed``: the provider's own answer, comparing the declarations as
    typed. Where reads refresh the inputs, a change is left for the engine to
    diff itself (changes unknown): it then names each changed key, `~
    <fingerprint>: "INACTIVE" => "ACTIVE"`, which an explicit answer cannot
    carry through pulumi.dynamic. No change is said outright, so a state
    written in an earlier encoding of the same declaration (a shard's groups
    as nested maps) is not an update."""
    changes = (None if changed else False) if READ_TAKES_INPUTS else changed
    return DiffResult(changes=changes, replaces=replaces, delete_before_replace=delete_before_replace)
