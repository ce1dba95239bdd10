"""Faults the local endpoint injects on request: fleet's tests of a failing AWS.

A test arms faults with ``POST /_localaws/faults`` (a JSON list of rules),
reads how many were injected with ``GET`` and disarms them with ``DELETE``.
Each rule picks requests by service, by reads or writes, by method and path
(for example ``POST /certificate/register``), by region, skips the first ``after`` of
them, then injects its fault on every ``every``-th one, at most ``times``
times, or for ``seconds`` once the first is injected:

- ``throttle``: 400 ThrottlingException, as AWS answers above a rate limit;
- ``error``: 503 ServiceUnavailable;
- ``reset-before``: the connection is reset before the request reaches AWS
  (nothing happened);
- ``reset-after``: the request is served, then the connection is reset before
  the answer is sent (the write happened, the caller cannot know it did);
- ``outage``: every matching request fails (503 or a reset, alternately)
  until ``seconds`` have passed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

PATH = "/_localaws/faults"

Kind = Literal["throttle", "error", "reset-before", "reset-after", "outage"]
KINDS: tuple[str, ...] = ("throttle", "error", "reset-before", "reset-after", "outage")
READ_METHODS = ("GET", "HEAD")
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request")  # region, service


@dataclass
class Rule:
    kind: Kind
    service: str = "iot"  # "*" for every service, STS included
    requests: Literal["writes", "reads", "all"] = "writes"
    method: str | None = None  # e.g. "POST"
    path: str | None = None  # a regular expression searched in the path, e.g. "^/certificate/register"
    region: str | None = None  # only requests signed for this region (a place that cannot be reached)
    after: int = 0
    every: int = 1
    times: int | None = None
    seconds: float | None = None
    seen: int = field(default=0, repr=False)
    injected: int = field(default=0, repr=False)
    started: float | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Rule:
        unknown = set(raw) - {
            "kind",
            "service",
            "requests",
            "method",
            "path",
            "region",
            "after",
            "every",
            "times",
            "seconds",
        }
        if unknown or raw.get("kind") not in KINDS:
            raise ValueError(f"bad fault rule {raw!r}: kind must be one of {KINDS}; unknown keys {sorted(unknown)}")
        return cls(**raw)

    def matches(self, service: str, method: str, path: str, region: str = "") -> bool:
        if self.service not in ("*", service) or self.region not in (None, region):
            return False
        is_read = method in READ_METHODS
        if (self.requests == "writes" and is_read) or (self.requests == "reads" and not is_read):
            return False
        if self.method and method != self.method:
            return False
        return not (self.path and not re.search(self.path, path))

    def fires(self, now: float) -> bool:
        """Counts a matching request; True when this one gets the fault."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.seconds is not None and self.started is not None:
            return now - self.started < self.seconds
        if self.times is not None and self.injected >= self.times:
            return False
        return (self.seen - self.after - 1) % self.every == 0


class Faults:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._injected: Counter[str] = Counter()
        self._clock = clock

    def arm(self, rules: list[Rule]) -> None:
        with self._lock:
            self._rules = rules
            self._injected.clear()

    def clear(self) -> None:
        with self._lock:
            self._rules = []
            self._injected.clear()

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {"injected": dict(self._injected), "by_rule": [rule.injected for rule in self._rules]}

    def pick(self, service: str, method: str, path: str, region: str = "") -> str | None:
        """The fault this request gets, if any (the first rule that fires)."""
        with self._lock:
            now = self._clock()
            for rule in self._rules:
                if rule.matches(service, method, path, region) and rule.fires(now):
                    if rule.started is None:
                        rule.started = now
                    rule.injected += 1
                    kind: str = rule.kind
                    if kind == "outage":
                        kind = "error" if rule.injected % 2 else "reset-before"
                    self._injected[f"{rule.kind}:{kind}" if rule.kind == "outage" else kind] += 1
                    return kind
            return None


def _scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, region) the request is signed for."""
    found = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return (found.group(2), found.group(1)) if found else ("", "")


def _reset(environ: dict[str, Any]) -> None:
    """Close the client's connection with a TCP reset (SO_LINGER 0), as a dropped connection looks."""
    connection: socket.socket | None = environ.get("werkzeug.socket")
    if connection is not None:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # close() alone would wait for the server's own file objects on the socket: detach and close the
        # descriptor, so the reset goes out now and the server's later writes fail instead of answering.
        os.close(connection.detach())


def _error(service: str, status: str, code: str, start_response: Callable[..., Any]) -> list[bytes]:
    if service in ("iot", ""):  # REST-JSON services: the error code travels in a header
        body = json.dumps({"message": f"{code} (injected by localaws)"}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    else:  # query protocol (STS): an XML error document
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>"
            f"<Message>injected by localaws</Message></Error></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


class FaultApp:
    """WSGI middleware in front of the endpoint: serves PATH, injects armed faults, passes the rest on."""

    def __init__(self, app: Callable[..., Iterable[bytes]], faults: Faults | None = None):
        self.app = app
        self.faults = faults or Faults()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == PATH:
            return self._control(environ, start_response)
        if path.startswith(("/_localaws/", "/moto-api/")):
            return self.app(environ, start_response)
        service, region = _scope(environ)
        fault = self.faults.pick(service, environ.get("REQUEST_METHOD", ""), path, region)
        if fault == "throttle":
            return _error(service, "400 Bad Request", "ThrottlingException", start_response)
        if fault == "error":
            return _error(
                service,
                "503 Service Unavailable",
                "ServiceUnavailableException" if service == "iot" else "ServiceUnavailable",
                start_response,
            )
        if fault == "reset-before":
            _reset(environ)
            return []
        if fault == "reset-after":
            served = list(self.app(environ, lambda *_args, **_kw: None))  # served in full; the answer is lost
            del served
            _reset(environ)
            return []
        return self.app(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD")
        status = "200 OK"
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                self.faults.arm([Rule.parse(raw) for raw in json.loads(environ["wsgi.input"].read(length))])
            except (ValueError, TypeError) as error:
                status, body = "400 Bad Request", json.dumps({"error": str(error)}).encode()
                start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
        elif method == "DELETE":
            self.faults.clear()
        body = json.dumps(self.faults.report()).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
