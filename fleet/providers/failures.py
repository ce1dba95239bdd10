"""Provider refusals and failures in fleet's own words, through what Pulumi
supports on every SDK of the range (3.79 to 3.272):

- A refusal the inputs can cause is found by ``check``, which returns it as
  a check failure: the engine prints "<type> resource '<name>' has a
  problem: <sentence>" at preview, before any write (``checked``). The
  program's ``pulumi.RunError`` (fleet.program.declare) is the other clean way; it
  refuses what the manifests, AWS's records and the stacks' states show.
- A failure only a write can discover (AWS does not hold what was written,
  an outage past the retry budget, a refusal some write path repeats as
  defence in depth) is raised as an exception carrying fleet's sentence
  (``reported``). Pulumi renders it: SDKs up to 3.259 as "Exception calling
  application: <sentence>" (gRPC's words), SDKs from 3.260 as the provider's
  Python traceback, whose last line is "fleet.ProviderFailure: <sentence>".

Unexpected exceptions are reported the same ways, by type and message; their
traceback goes to the provider's stderr only with FLEET_DEBUG=1.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from pulumi.dynamic import CheckFailure, CheckResult, ResourceProvider

from fleet.aws.errors import AwsError
from fleet.crypto.keys import KeyUnavailable
from fleet.settings import SettingsError

F = TypeVar("F", bound=Callable[..., Any])
Check = Callable[[Any, dict[str, Any], dict[str, Any]], list[str]]


class ProviderFailure(Exception):
    """fleet refuses or cannot complete the operation; the message says why."""

    __module__ = "fleet"  # a traceback's last line: "fleet.ProviderFailure: <sentence>"


# What fleet raises on purpose, in words for the user: message only.
EXPECTED: tuple[type[Exception], ...] = (ProviderFailure, AwsError, KeyUnavailable, SettingsError)


def fail(message: str) -> NoReturn:
    raise ProviderFailure(message)


def reported(method: F) -> F:
    """Run a provider method; what it raises reaches the user as a ProviderFailure with fleet's sentence."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ProviderFailure:
            raise
        except Exception as error:  # noqa: BLE001 (any other failure: fleet's sentence, never a bare traceback)
            raise ProviderFailure(_sentence(error, method)) from None

    return run  # type: ignore[return-value]


def checked(method: Check) -> Callable[[ResourceProvider, dict[str, Any], dict[str, Any]], CheckResult]:
    """A ``check`` that returns the problems it finds as sentences: each one
    reaches the preview as a check failure, and so does anything it raises."""

    @functools.wraps(method)
    def run(provider: ResourceProvider, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        try:
            problems = method(provider, olds, news)
        except Exception as error:  # noqa: BLE001 (any failure: a check failure in fleet's words)
            problems = [_sentence(error, method)]
        return CheckResult(news, [CheckFailure("", problem) for problem in problems])

    return run


def _sentence(error: Exception, method: Callable[..., Any]) -> str:
    if isinstance(error, EXPECTED):
        return str(error)
    if os.environ.get("FLEET_DEBUG") == "1":
        traceback.print_exc(file=sys.stderr)
    return f"fleet: unexpected {type(error).__name__} in {method.__qualname__}: {error}"
