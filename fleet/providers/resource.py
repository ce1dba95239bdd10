"""What every fleet resource and provider shares.

pulumi.dynamic's serializer (3.79 as in 3.259/3.272) patches two methods of
pickle's pure-Python Pickler to sort dictionaries, and never restores them:
each resource constructed wraps the previous wrapper, and pickling a dict
after a few hundred resources raises RecursionError (pulumi/pulumi#17803 is
probably this). Restoring both after each construction keeps any number of
resources safe.
"""

from __future__ import annotations

import inspect
import pickle
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import DiffResult, ReadResult, Resource, ResourceProvider

PROVIDER_KEY = "__provider"  # pulumi.dynamic's key for the pickled provider, in inputs and outputs


class FleetResource(Resource):
    def __init__(
        self, provider: ResourceProvider, name: str, props: dict[str, Any], opts: ResourceOptions | None = None
    ):
        pickler: Any = pickle._Pickler  # noqa: SLF001 (the class pulumi patches)
        saved = (pickler._batch_setitems, pickler.save_dict)
        try:
            super().__init__(provider, name, props, opts)
        finally:
            pickler._batch_setitems, pickler.save_dict = saved


def stored(props: dict[str, Any]) -> dict[str, Any]:
    """Properties without pulumi's pickled provider."""
    return {k: v for k, v in props.items() if k != PROVIDER_KEY}


# pulumi 3.79's ReadResult takes no inputs; later releases use them for the diffs after a refresh.
READ_TAKES_INPUTS = "inputs" in inspect.signature(ReadResult.__init__).parameters


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
