"""Manifest problems, in the user's terms: file:line:column, field, message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FieldPath = tuple[str | int, ...]


def field_name(path: FieldPath) -> str:
    """('cas', 'factory', 'placements', 1, 'regions') -> cas.factory.placements[1].regions"""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, order=True)
class Problem:
    file: Path
    line: int  # 1-based
    column: int  # 1-based
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


def declared_twice(kind: str, name: str, first: Problem, second: Problem) -> list[Problem]:
    """The same thing declared in two places: said at both, each naming the other
    (which of the two is the copy is the reader's call)."""
    return [
        Problem(
            second.file,
            second.line,
            second.column,
            second.field,
            f"{kind} {name!r} is declared twice: first at {first.file}:{first.line}",
        ),
        Problem(
            first.file,
            first.line,
            first.column,
            first.field,
            f"{kind} {name!r} is declared again at {second.file}:{second.line}",
        ),
    ]


class ManifestError(Exception):
    """The manifests are invalid; nothing was changed anywhere."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = sorted(set(problems))  # one certificate in two regions: said once
        count = len(self.problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the manifests; nothing was changed:"
        super().__init__("\n".join([heading, *(f"  {p}" for p in self.problems)]))
