"""Manifest names for what an import declares: [a-z0-9-], at most 63
characters, never one already in use (``-2``, ``-3``... are added)."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX = 63


def slug(text: str, fallback: str) -> str:
    """``text`` as a manifest name (``Factory Root CA 2`` -> ``factory-root-ca-2``)."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:MAX].strip("-")
    return name or fallback


def unique(base: str, taken: Iterable[str]) -> str:
    """``base``, or the first of ``base-2``, ``base-3``... not taken (cut to fit 63 characters)."""
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        name = base[: MAX - len(suffix)].rstrip("-") + suffix
        if name not in used:
            return name
        n += 1
