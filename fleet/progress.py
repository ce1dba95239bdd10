"""How far a long convergence has got, as periodic lines (not a spinner), for CI logs.

A provider's stderr reaches the `pulumi up` output; a resource that converges
thousands of certificates says every ``every`` seconds how many it has done,
and nothing when it finishes within one interval.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class Progress:
    def __init__(
        self,
        label: str,
        total: int,
        every: float,
        clock: Callable[[], float] = time.monotonic,
        write: Callable[[str], object] = sys.stderr.write,
    ):
        self._label = label
        self._total = total
        self._every = every
        self._clock = clock
        self._write = write
        self._last = clock()
        self.done = 0

    def step(self, count: int = 1) -> None:
        self.done += count
        if self._clock() - self._last < self._every:
            return
        self._last = self._clock()
        try:
            self._write(f"fleet: {self._label}: {self.done:,} of {self._total:,} certificates done\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a lost log line must never fail a write in flight
