"""Whether a certificate is within its validity, in words: one wording for the
manifests' checks (fleet.crypto.pki) and the just-in-time decision (fleet.jitr.activation),
which the Lambda runs without the cryptography package."""

from __future__ import annotations

import datetime


def problem(not_before: datetime.datetime, not_after: datetime.datetime, now: datetime.datetime) -> str | None:
    """Why a certificate valid from ``not_before`` to ``not_after`` (UTC) is not valid at ``now``, or None."""
    if now < not_before:
        return f"not valid before {not_before:%Y-%m-%d %H:%M} UTC"
    if now > not_after:
        return f"expired on {not_after:%Y-%m-%d %H:%M} UTC"
    return None
