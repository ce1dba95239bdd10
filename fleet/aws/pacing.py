"""Pace AWS calls per (account, region, API) at AWS IoT's default rates.

AWS allows about 10 control-plane calls a second per API, account and region
(aws-iot-facts.md, "Rate limits"); going faster only buys ThrottlingException
and retries. Calls for different accounts, regions or APIs never wait on
each other, so work runs in parallel across them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

# Default requests a second per account and region (the archived AWS IoT quota
# table); adjustable in AWS through Service Quotas, here through Settings.
DEFAULT_RATE = 10.0
FASTER = {"AttachPolicy": 1.5, "DetachPolicy": 1.5, "ListAttachedPolicies": 1.5}  # about 15/s by default


class Pacer:
    """A minimum interval between calls per key; thread-safe."""

    def __init__(
        self,
        default: float = DEFAULT_RATE,
        factors: Mapping[str, float] = FASTER,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._default = default
        self._factors = dict(factors)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[tuple[str, str, str], float] = {}

    def wait(self, account_id: str, region: str, api: str) -> None:
        key = (account_id, region, api)
        interval = 1.0 / (self._default * self._factors.get(api, 1.0))
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(key, now))
            self._next[key] = start + interval
        if start > now:
            self._sleep(start - now)

    def hook(self, account_id: str, region: str) -> Callable[..., None]:
        """A botocore ``before-call`` handler that paces every call of one client."""

        def before_call(model: Any, **_: Any) -> None:
            self.wait(account_id, region, model.name)

        return before_call
