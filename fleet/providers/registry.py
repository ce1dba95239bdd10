"""What the run in progress declares, as the provider process learns it: the
one home of the rename-safety decision.

The engine checks every resource the program declares (``check``) before it
deletes any resource the program no longer declares: deletes come only after
the program has finished (pkg/resource/deploy/deployment_executor.go,
performPostSteps). So by the time a delete runs, every resource that now
holds an AWS object has claimed it here, and the delete leaves alone what
another resource claims (a renamed CA, a renamed account) or what belongs to
another stack now (``fleet:Stack`` records the places handed over). A run
with no program (`pulumi destroy`) claims nothing: everything is removed.

A resource that has claimed is one the program declares in this run: a diff
before that is a refresh's own (pkg/resource/deploy/step.go, RefreshStep:
what AWS has against the recorded inputs, for display), not a declaration.

One registry per provider process; all dynamic resources of a run share that
process (4 threads).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

Place = tuple[str, str]  # (account id, region)


class RunRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claims: dict[tuple[str, str, str, str], set[str]] = {}  # (kind, account id, region, id) -> URNs
        self._handed_over: dict[Place, str] = {}  # place -> the stack that manages it now
        self._declared: set[str] = set()  # resources the program declared (checked) in this run

    def claim(self, kind: str, place: Place, ids: Iterable[str], resource: str) -> None:
        with self._lock:
            self._declared.add(resource)
            for object_id in ids:
                self._claims.setdefault((kind, *place, object_id), set()).add(resource)

    def declared(self, resource: str) -> bool:
        with self._lock:
            return resource in self._declared

    def claimed_elsewhere(self, kind: str, place: Place, object_id: str, resource: str) -> bool:
        with self._lock:
            return bool(self._claims.get((kind, *place, object_id), set()) - {resource})

    def hand_over(self, places: dict[Place, str]) -> None:
        with self._lock:
            self._handed_over.update(places)

    def handed_over(self, place: Place) -> str | None:
        with self._lock:
            return self._handed_over.get(place)


REGISTRY = RunRegistry()
