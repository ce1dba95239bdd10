"""Provider failures in fleet's own words.

An exception raised out of a provider method reaches the engine through
gRPC's Python server, which prefixes it "Exception calling application: ".
Aborting the call in progress instead hands the engine the message as it is
(grpc ``ServicerContext.abort``: the details become the error). The call's
context belongs to pulumi.dynamic's servicer method, a few frames up.
Unexpected exceptions are reported the same way, by type and message; their
traceback only with FLEET_DEBUG=1 (a provider's stderr reaches the user).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import grpc

from fleet.aws.errors import AwsError
from fleet.keys import KeyUnavailable
from fleet.settings import SettingsError

F = TypeVar("F", bound=Callable[..., Any])


class ProviderFailure(Exception):
    """fleet refuses or cannot complete the operation; the message says why."""


# What fleet raises on purpose, in words for the user: message only.
EXPECTED: tuple[type[Exception], ...] = (ProviderFailure, AwsError, KeyUnavailable, SettingsError)


def fail(message: str) -> NoReturn:
    raise ProviderFailure(message)


def reported(method: F) -> F:
    """Run a provider method; what it raises reaches the user as fleet's sentence."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except EXPECTED as error:
            message = str(error)
        except Exception as error:  # noqa: BLE001 (any other failure: reported, never a traceback)
            if os.environ.get("FLEET_DEBUG") == "1":
                traceback.print_exc(file=sys.stderr)
            message = f"fleet: unexpected {type(error).__name__} in {method.__qualname__}: {error}"
        _abort(message)

    return run  # type: ignore[return-value]


def _abort(message: str) -> NoReturn:
    context = _servicer_context()
    if context is not None:
        context.abort(grpc.StatusCode.UNKNOWN, message)  # raises; the engine gets ``message`` as it is
    raise ProviderFailure(message)


def _servicer_context() -> grpc.ServicerContext | None:
    frame = sys._getframe(1)  # noqa: SLF001 (the servicer's frame holds the call's context)
    while frame is not None:
        candidate = frame.f_locals.get("context")
        if isinstance(candidate, grpc.ServicerContext):
            return candidate
        frame = frame.f_back  # type: ignore[assignment]
    return None
