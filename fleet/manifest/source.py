"""Read YAML manifests with ruamel.yaml, keeping every node's position, within
bounds a hostile file cannot push: its size, its depth, and the number of
nodes it stands for once aliases are expanded (a "billion laughs" is refused
while it is read, never expanded). Every way a file can fail to read comes
back as a Problem with file, line and column; never as an exception.

YAML merge keys (``<<: *defaults``) work, and a merged value is located where
its anchor wrote it. Top-level keys starting with ``x-`` are ignored: the
place for such anchors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.reader import ReaderError

from fleet.files import UnreadableFile, read_bounded
from fleet.manifest.problems import FieldPath, Problem, field_name

MAX_FILE_BYTES = 16 * 1024 * 1024  # a ledger of ~200,000 revocations fits; split larger ones into files
MAX_DEPTH = 64  # the deepest manifest is ~8 levels
# Values a file stands for, each alias counted again wherever it is used. ruamel's round-trip
# reader takes about 80 µs a value: this bounds a file's reading to about 20 s.
MAX_NODES = 250_000
ANCHORS_ONLY = "x-"  # top-level keys fleet ignores


class LimitExceeded(MarkedYAMLError):
    """A file stands for more nodes than fleet reads."""


class DatingConstructor(RoundTripConstructor):
    """ruamel's, but a date that matches YAML's timestamp form and is no date (2099-13-45) is a
    located error, not a bare ValueError from deep in the constructor."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError as error:
            raise ConstructorError(None, None, f"{node.value!r} is not a date ({error})", node.start_mark) from None


DatingConstructor.add_constructor("tag:yaml.org,2002:timestamp", DatingConstructor.construct_yaml_timestamp)


class BoundedComposer(Composer):
    """Counts the nodes a document stands for with every alias expanded, as it
    composes it (aliases themselves stay shared, never copied)."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._total = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias = self.parser.check_event(AliasEvent)
        mark = self.parser.peek_event().start_mark
        start = self._total
        node = super().compose_node(parent, index)
        if alias:
            self._total += self._sizes.get(id(node), 1)
        else:
            self._total += 1
            self._sizes[id(node)] = self._total - start
        if self._total > MAX_NODES:
            raise LimitExceeded(
                None,
                None,
                f"the file stands for more than {MAX_NODES:,} values once its aliases "
                "are expanded; fleet reads no more",
                mark,
            )
        return node


@dataclass(frozen=True)
class SourceFile:
    """One manifest file: its display path, and its parsed tree."""

    path: Path
    data: Any

    def problem(self, field: FieldPath, message: str, *, at_key: bool = False) -> Problem:
        line, column = self.position(field, at_key=at_key)
        return Problem(self.path, line, column, field_name(field), message)

    def position(self, field: FieldPath, *, at_key: bool = False) -> tuple[int, int]:
        """1-based line and column of the deepest node on ``field`` that exists.

        ``at_key`` points at a mapping key itself (for unknown or bad keys)
        rather than at its value; an empty value is located at its key, where
        the person wrote it."""
        node, line, column = self.data, 0, 0
        for index, part in enumerate(field):
            last = index == len(field) - 1
            if isinstance(node, CommentedMap) and part in node:
                owner = _owner(node, part)
                if owner is None:
                    break
                empty = node[part] is None or node[part] == ""
                line, column = owner.lc.key(part) if ((last and at_key) or empty) else owner.lc.value(part)
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, column = node.lc.item(part)
                node = node[part]
            else:
                break
        return line + 1, column + 1


def _owner(node: CommentedMap, key: Any) -> CommentedMap | None:
    """The mapping that wrote ``key``: ``node`` itself, or the anchor a merge key brought it from."""
    if key in node.lc.data:
        return node
    for merged in getattr(node, merge_attrib, None) or []:
        if isinstance(merged, CommentedMap):
            found = _owner(merged, key)
            if found is not None:
                return found
    return None


def read(path: Path, display: Path) -> SourceFile | Problem:
    """Parse one file; every failure comes back as a Problem."""
    try:
        size = path.stat().st_size
    except OSError as error:
        return Problem(display, 1, 1, "", f"cannot read: {error.strerror}")
    if size > MAX_FILE_BYTES:
        return Problem(
            display,
            1,
            1,
            "",
            f"{size:,} bytes; fleet reads manifest files of at most "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB: split it into several files",
        )
    try:
        raw = read_bounded(path, MAX_FILE_BYTES)
        text = raw.decode("utf-8")
    except OSError as error:
        return Problem(display, 1, 1, "", f"cannot read: {error.strerror}")
    except UnreadableFile as error:
        return Problem(display, 1, 1, "", f"cannot read: {error}")
    except UnicodeDecodeError as error:
        line, column = _position(raw[: error.start].decode("utf-8", errors="replace"))
        return Problem(display, line, column, "", f"not UTF-8 text (byte 0x{raw[error.start]:02x})")
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.max_depth = MAX_DEPTH
    yaml.Composer = BoundedComposer
    yaml.Constructor = DatingConstructor
    try:
        data = yaml.load(text)
    except ReaderError as error:
        line, column = _position(text[: error.position] if isinstance(error.position, int) else "")
        what = f"#x{error.character:04x}" if isinstance(error.character, int) else repr(error.character)
        return Problem(display, line, column, "", f"a character YAML does not allow ({what}: {error.reason})")
    except MarkedYAMLError as error:
        return _marked(display, error)
    except (YAMLError, RecursionError, ValueError, TypeError) as error:
        return Problem(display, 1, 1, "", f"not YAML fleet can read ({type(error).__name__})")
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        return Problem(display, 1, 1, "", "a manifest must be a mapping (accounts:, cas:)")
    for key in [k for k in data if isinstance(k, str) and k.startswith(ANCHORS_ONLY)]:
        del data[key]
    return SourceFile(display, data)


def _marked(display: Path, error: MarkedYAMLError) -> Problem:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = " ".join(str(part) for part in (error.context, error.problem) if part)
    if isinstance(error, DuplicateKeyError) and error.problem and error.context_mark:
        key = str(error.problem).split('"')[1] if '"' in str(error.problem) else "?"
        message = f"duplicate key {key!r} (the mapping starts at line {error.context_mark.line + 1})"
    elif "maximum depth" in message:
        message = f"nested more than {MAX_DEPTH} levels deep; fleet reads no deeper"
    return Problem(display, line, column, "", _first_line(message) or "invalid YAML")


def _position(before: str) -> tuple[int, int]:
    """1-based line and column just after ``before``."""
    lines = before.split("\n")
    return len(lines), len(lines[-1]) + 1


def _first_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
