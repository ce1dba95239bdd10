"""Run settings, read once from the environment at the edges and passed on."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    endpoint_url: str | None = None
    """FLEET_AWS_ENDPOINT_URL: send every AWS call there (the local endpoint). Unset: real AWS."""

    sts_region: str = "us-east-1"
    """FLEET_STS_REGION: region of the STS endpoint used to assume deployer roles."""

    retry_seconds: float = 300.0
    """FLEET_AWS_RETRY_SECONDS: how long one call keeps retrying through throttling, 5xx answers
    and connection errors (backoff up to 20 s between tries) before the run fails naming it."""

    page_size: int = 250
    """List calls ask for this many items a page (AWS allows 1..250)."""

    rate: float = 10.0
    """FLEET_AWS_RATE: calls a second per account, region and API (AWS IoT's default quota;
    AttachPolicy and DetachPolicy get 1.5 times this)."""

    progress_seconds: float = 30.0
    """FLEET_PROGRESS_SECONDS: a resource converging many certificates prints how far it has got
    at most this often (a line each, usable in CI logs)."""

    reader_role: str | None = None
    """FLEET_READER_ROLE: a role name. When set, fleet assumes that role in each account
    instead of the manifest's deployer role, and makes read calls only (List*, Describe*,
    Get*): for pull-request previews and drift checks, which must not be able to write."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The settings; a value that is not one raises SettingsError naming the variable."""
        return cls(
            endpoint_url=environ.get("FLEET_AWS_ENDPOINT_URL") or None,
            sts_region=environ.get("FLEET_STS_REGION", cls.sts_region),
            retry_seconds=_positive(environ, "FLEET_AWS_RETRY_SECONDS", cls.retry_seconds),
            rate=_positive(environ, "FLEET_AWS_RATE", cls.rate),
            progress_seconds=_positive(environ, "FLEET_PROGRESS_SECONDS", cls.progress_seconds),
            reader_role=environ.get("FLEET_READER_ROLE") or None,
        )


class SettingsError(ValueError):
    """An environment variable fleet reads holds no value it can use."""


def _positive(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise SettingsError(f"{name}={text!r} must be a positive number")
    return value
