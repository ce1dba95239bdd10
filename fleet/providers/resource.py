"""The base of fleet's dynamic resources.

pulumi.dynamic's serializer (3.79 as in 3.259/3.272) patches two methods of
pickle's pure-Python Pickler to sort dictionaries, and never restores them:
each resource constructed wraps the previous wrapper, and pickling a dict
after a few hundred resources raises RecursionError (pulumi/pulumi#17803 is
probably this). Restoring both after each construction keeps any number of
resources safe.
"""

from __future__ import annotations

import pickle
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import Resource, ResourceProvider


class FleetResource(Resource):
    def __init__(self, provider: ResourceProvider, name: str, props: dict[str, Any],
                 opts: ResourceOptions | None = None):
        pickler: Any = pickle._Pickler  # noqa: SLF001 (the class pulumi patches)
        saved = (pickler._batch_setitems, pickler.save_dict)
        try:
            super().__init__(provider, name, props, opts)
        finally:
            pickler._batch_setitems, pickler.save_dict = saved
