"""Where fleet leans on the Pulumi SDK beyond its documented API, in one place,
each tested on both ends of the supported range (tests marked `oldest` run on
3.79.0 as well as on the current SDK):

- pulumi.dynamic's serializer (3.79 as in 3.259/3.272) patches two methods of
  pickle's pure-Python Pickler to sort dictionaries, and never restores them:
  each resource constructed wraps the previous wrapper, and pickling a dict
  after a few hundred resources raises RecursionError (pulumi/pulumi#17803 is
  probably this). ``pickle_left_as_found`` restores both after each
  construction, which keeps any number of resources safe.
- pulumi 3.79's ``ReadResult`` takes no inputs; later releases take them and
  use them for the diffs after a refresh (``READ_TAKES_INPUTS``).
"""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pulumi.dynamic import ReadResult

READ_TAKES_INPUTS = "inputs" in inspect.signature(ReadResult.__init__).parameters


@contextmanager
def pickle_left_as_found() -> Iterator[None]:
    pickler: Any = pickle._Pickler  # noqa: SLF001 (the class pulumi patches)
    saved = (pickler._batch_setitems, pickler.save_dict)
    try:
        yield
    finally:
        pickler._batch_setitems, pickler.save_dict = saved
