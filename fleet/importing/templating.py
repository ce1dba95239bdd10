"""One policy document for the places AWS has a policy in.

Where the documents are the same everywhere, that document, as it is. Where
they differ only by each place's account id and region, the document with
``{{account_id}}`` and ``{{region}}`` in their stead (fleet fills them in per
place: fleet.manifest.device_rules). Anything else is a real difference:
no document, and why. Whatever comes out is checked by filling it in for
every place: it must give back AWS's document in each, and leave no
placeholder fleet would refuse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fleet.manifest.desired import AccountSpec
from fleet.manifest.device_rules import PLACEHOLDER, substitute


@dataclass(frozen=True, order=True)
class Where:
    """An account and region, as templating needs it."""

    account_id: str
    region: str
    account: str  # its name (what {{account}} becomes)

    @property
    def label(self) -> str:
        return f"{self.account}/{self.region}"


@dataclass(frozen=True)
class Templated:
    text: str | None  # the one document (JSON, indented), or None
    templated: bool = False  # whether it has placeholders
    why: str = ""  # why there is none


def template(documents: Mapping[Where, str]) -> Templated:
    """``documents``: each place's document as AWS has it."""
    parsed: dict[Where, Any] = {}
    for where, text in sorted(documents.items()):
        try:
            parsed[where] = json.loads(text)
        except (ValueError, RecursionError):
            return Templated(None, why=f"its document in {where.label} is not JSON")
    first = min(parsed)
    if all(document == parsed[first] for document in parsed.values()):
        return _checked(parsed[first], parsed, templated=False)
    masked = {where: _mask(document, where) for where, document in parsed.items()}
    other = next((w for w in sorted(masked) if masked[w] != masked[first]), None)
    if other is not None:
        return Templated(
            None, why=f"its documents in {first.label} and {other.label} differ beyond the account id and the region"
        )
    return _checked(masked[first], parsed, templated=True)


def _mask(value: Any, where: Where) -> Any:
    """Every string of the document with the place's account id and region as placeholders."""
    if isinstance(value, str):
        value = re.sub(rf"(?<![0-9]){where.account_id}(?![0-9])", "{{account_id}}", value)
        return re.sub(rf"(?<![A-Za-z0-9]){re.escape(where.region)}(?![A-Za-z0-9])", "{{region}}", value)
    if isinstance(value, list):
        return [_mask(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _mask(v, where) for k, v in value.items()}
    return value


def _checked(document: Any, parsed: Mapping[Where, Any], templated: bool) -> Templated:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    for where, wanted in sorted(parsed.items()):
        filled = substitute(text, AccountSpec(where.account, where.account_id, "", (where.region,)), where.region)
        left = PLACEHOLDER.search(filled)
        if left:
            return Templated(
                None, why=f"its document in {where.label} holds {left[0]}, which fleet would read as a placeholder"
            )
        if json.loads(filled) != wanted:
            return Templated(None, why=f"its document in {where.label} holds {{{{...}}}} text that fleet would fill in")
    return Templated(text, templated)
