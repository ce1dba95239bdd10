"""How the engine's diff shows one certificate of a shard (fleet.model.declarations.Entry): the
preview decodes the shard's JSON text and shows each certificate's status, or the object of what
differs, line by line with its mark (``-`` what AWS has, ``+`` what is declared)."""

from __future__ import annotations

import json
import re
from typing import Any


def shows(output: str, mark: str, fingerprint: str, value: Any) -> bool:
    """Whether ``output`` shows ``fingerprint`` holding ``value`` (a status, or an entry's
    fields), marked ``mark``; the engine's alignment and line breaks aside."""
    return f"{mark}{fingerprint}:{_shown(mark, value)}" in re.sub(r"\s+", "", output)


def _shown(mark: str, value: Any) -> str:
    if isinstance(value, dict):
        return "{" + "".join(f"{mark}{key}:{_shown(mark, v)}" for key, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + "".join(f"{mark}[{i}]:{_shown(mark, v)}" for i, v in enumerate(value)) + "]"
    return json.dumps(value)
