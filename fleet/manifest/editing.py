"""Edit manifests in place the way a person would: ruamel.yaml round-trip, so
comments, key order, quoting and indentation stay as they were."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from fleet.aws.status import CertificateStatus
from fleet.files import write_atomic


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    # One value written in two places (a revocation date) is written twice, never as &anchor/*alias.
    yaml.representer.ignore_aliases = lambda *_: True
    return yaml


def load(path: Path) -> Any:
    return _yaml().load(path.read_text(encoding="utf-8"))


def dump(data: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()


def save(path: Path, data: Any) -> bool:
    """Write ``data`` to ``path`` (whole or not at all); False when nothing changed."""
    text = dump(data)
    if path.exists() and text == path.read_text(encoding="utf-8"):
        return False
    write_atomic(path, text)
    return True


def put_after(mapping: Any, key: str, value: Any, after: str | None = None) -> None:
    """Set ``key``; a new key goes right after ``after`` (when present), else at the end."""
    if key in mapping or after is None or after not in mapping:
        mapping[key] = value
        return
    mapping.insert(list(mapping).index(after) + 1, key, value)


def revocation(reason: str, date: datetime.date) -> CommentedMap:
    """A ``revocation:`` entry, as a person would write it."""
    entry = CommentedMap()
    entry["reason"] = reason
    entry["date"] = date  # written as a YAML date, as a person would
    return entry


def revoke(entry: Any, reason: str, date: datetime.date, after: str) -> None:
    """Make a group or exception entry REVOKED, with its revocation."""
    put_after(entry, "status", CertificateStatus.REVOKED.value, after=after)
    put_after(entry, "revocation", revocation(reason, date), after="status")
