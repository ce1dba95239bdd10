"""Counts the API calls the local endpoint serves, by service and operation.

Tests and the benchmark read it from the endpoint's side (``GET
/_localaws/calls``) to prove, for example, that a no-change run made no write;
``GET /_localaws/calls/order`` lists the last calls in the order served (what
came first: a function updated before any certificate changed).
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.responses import BaseResponse

PATH = "/_localaws/calls"
ORDER_PATH = "/_localaws/calls/order"
KEPT_IN_ORDER = 100_000

_lock = threading.Lock()
_calls: Counter[str] = Counter()
_order: deque[str] = deque(maxlen=KEPT_IN_ORDER)


def record(service: str, operation: str) -> None:
    with _lock:
        _calls[f"{service}:{operation}"] += 1
        _order.append(f"{service}:{operation}")


def in_order() -> list[str]:
    with _lock:
        return list(_order)


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(sorted(_calls.items()))


def reset() -> None:
    with _lock:
        _calls.clear()
        _order.clear()


def install() -> None:
    """Count every call moto dispatches to a service backend."""
    original = BaseResponse.call_action
    if getattr(original, "_localaws_counted", False):
        return

    def counted_call_action(self: BaseResponse) -> Any:
        record(self.service_name, self._get_action())
        return original(self)

    counted_call_action._localaws_counted = True  # type: ignore[attr-defined]
    BaseResponse.call_action = counted_call_action  # type: ignore[method-assign]


class LedgerApp:
    """WSGI middleware: serves the ledger at PATH, passes everything else on."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path not in (PATH, ORDER_PATH):
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "DELETE":
            reset()
        body = json.dumps(snapshot() if path == PATH else in_order()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
