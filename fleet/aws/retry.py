"""Wait out throttling and outages within a time budget, then give up naming the call.

botocore's standard retries count attempts and draw on a retry quota that a
long outage drains in seconds, so a 30-second outage used to fail the run.
This handler decides instead, on botocore's own ``needs-retry`` event, with
botocore's own notion of what is worth retrying (throttling, 5xx, connection
errors, errors the service model marks retryable): it retries with capped
exponential backoff and jitter until ``budget`` seconds have passed since the
call's first attempt. A write whose answer was lost is sent again like any
other; the callers settle what "already exists" means by reading AWS
(fleet.aws.certificates, fleet.aws.ca, fleet.aws.policies).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.retries.standard import (
    ModeledRetryableChecker,
    OrRetryChecker,
    RetryEventAdapter,
    ThrottledRetryableChecker,
    ThrottlingStatusCodeChecker,
    TransientRetryableChecker,
)

FIRST_ATTEMPT = "fleet_first_attempt"  # kept in the request's context across its attempts
GAVE_UP = "fleet_gave_up_after"


class OutageRetry:
    """A ``needs-retry`` handler: a delay while the budget lasts, else None (no retry)."""

    def __init__(
        self,
        budget: float,
        max_backoff: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ):
        self._budget = budget
        self._max_backoff = max_backoff
        self._clock = clock
        self._jitter = jitter
        self._adapter = RetryEventAdapter()
        self._retryable = OrRetryChecker(
            [
                TransientRetryableChecker(),
                ThrottledRetryableChecker(),
                ThrottlingStatusCodeChecker(),
                ModeledRetryableChecker(),
            ]
        )

    def __call__(self, **kwargs: Any) -> float | None:
        context = self._adapter.create_retry_context(**kwargs)
        request_context = context.request_context
        first: float = request_context.setdefault(FIRST_ATTEMPT, self._clock())
        if not self._retryable.is_retryable(context):
            return None
        elapsed = self._clock() - first
        attempt: int = context.attempt_number
        delay: float = min(self._max_backoff, 0.25 * 2 ** (attempt - 1)) * (0.5 + self._jitter() / 2)
        if elapsed + delay > self._budget:
            request_context[GAVE_UP] = round(elapsed)
            return None
        return delay
