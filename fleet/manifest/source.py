"""Read YAML manifests with ruamel.yaml, keeping every node's position."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from fleet.manifest.problems import FieldPath, Problem, field_name


@dataclass(frozen=True)
class SourceFile:
    """One manifest file: its display path, its folder, and its parsed tree."""

    path: Path
    data: Any

    def problem(self, field: FieldPath, message: str, *, at_key: bool = False) -> Problem:
        line, column = self.position(field, at_key=at_key)
        return Problem(self.path, line, column, field_name(field), message)

    def position(self, field: FieldPath, *, at_key: bool = False) -> tuple[int, int]:
        """1-based line and column of the deepest node on ``field`` that exists.

        ``at_key`` points at a mapping key itself (for unknown or bad keys)
        rather than at its value.
        """
        node, line, column = self.data, 0, 0
        for index, part in enumerate(field):
            last = index == len(field) - 1
            if isinstance(node, CommentedMap) and part in node:
                line, column = node.lc.key(part) if (last and at_key) else node.lc.value(part)
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, column = node.lc.item(part)
                node = node[part]
            else:
                break
        return line + 1, column + 1


def read(path: Path, display: Path) -> SourceFile | Problem:
    """Parse one file; a syntax error or duplicate key comes back as a Problem."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (error.context, error.problem) if part)
        if isinstance(error, DuplicateKeyError) and error.problem and error.context_mark:
            key = str(error.problem).split('"')[1] if '"' in str(error.problem) else "?"
            message = f"duplicate key {key!r} (the mapping starts at line {error.context_mark.line + 1})"
        return Problem(display, line, column, "", _first_line(message) or "invalid YAML")
    except (OSError, UnicodeDecodeError) as error:
        return Problem(display, 1, 1, "", f"cannot read: {error}")
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        return Problem(display, 1, 1, "", "a manifest must be a mapping (accounts:, cas:)")
    return SourceFile(display, data)


def _first_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
