"""GitHub Actions' expression syntax (`${{ ... }}`, `if:`), evaluated from a table of contexts.

What the workflows fleet writes use, and what GitHub documents for it
("Evaluate expressions in workflows and actions"): literals, context
properties (`vars.X`, `github.event.pull_request.number`, `matrix.stack`),
`!`, `&&`, `||`, `==`, `!=`, parentheses, and the functions `fromJSON`,
`toJSON`, `format`, `contains`, `startsWith`, `endsWith`, `hashFiles` and the
status checks. Strings compare case-insensitively, as GitHub's do.

Unlike GitHub, a name the table does not hold is not read as empty: it raises
Unevaluable, and so does syntax this does not know, so that a test never runs
a step on a value nobody gave it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOKEN = re.compile(
    r"""\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)
                       |(?P<op>&&|\|\||==|!=|!|\(|\)|\[|\]|,|\.)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))""",
    re.X,
)
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
STATUS = ("success", "failure", "cancelled", "always")


class Unevaluable(AssertionError):
    """An expression the table cannot answer: the test fails instead of guessing."""


def tokens(text: str) -> list[tuple[str, str]]:
    found, at = [], 0
    while at < len(text):
        if not text[at:].strip():
            break
        match = TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise Unevaluable(f"cannot read {text!r} at {text[at:]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


class Evaluator:
    """Evaluates one expression over ``contexts`` (lower-case names) and ``functions``."""

    def __init__(self, contexts: dict[str, Any], functions: dict[str, Callable[..., Any]]):
        self.contexts = contexts
        self.functions = {name.lower(): f for name, f in functions.items()}
        self.items: list[tuple[str, str]] = []
        self.at = 0

    def evaluate(self, text: str) -> Any:
        self.items, self.at = tokens(text), 0
        value = self._or()
        if self.at != len(self.items):
            raise Unevaluable(f"cannot read {text!r}: unexpected {self.items[self.at][1]!r}")
        return value

    def _peek(self) -> str | None:
        return self.items[self.at][1] if self.at < len(self.items) else None

    def _take(self, wanted: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.items) or (wanted is not None and self.items[self.at][1] != wanted):
            raise Unevaluable(f"expected {wanted or 'more'} at token {self.at} of {self.items}")
        self.at += 1
        return self.items[self.at - 1]

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            value = right if truthy(value) else value
        return value

    def _compare(self) -> Any:
        value = self._unary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            same = equal(value, self._unary())
            return same if op == "==" else not same
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._postfix()

    def _postfix(self) -> Any:
        value = self._primary()
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                kind, key = self._take()
                if kind != "name":
                    raise Unevaluable(f"a property name, not {key!r}")
            else:
                key = self._or()
                self._take("]")
            value = member(value, key)
        return value

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind != "name":
            raise Unevaluable(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self._peek() == "(":
            self._take()
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take(")")
            function = self.functions.get(text.lower())
            if function is None:
                raise Unevaluable(f"no function {text}() in this runner")
            return function(*args)
        if text.lower() not in self.contexts:
            raise Unevaluable(f"no context {text!r} in this runner's table")
        return self.contexts[text.lower()]


def member(value: Any, key: Any) -> Any:
    if isinstance(value, dict) and isinstance(key, str):
        matches = [k for k in value if k.lower() == key.lower()]  # property names are case-insensitive
        if matches:
            return value[matches[0]]
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return value[key]
    raise Unevaluable(f"{key!r} is not in the runner's table ({sorted(value) if isinstance(value, dict) else value})")


def truthy(value: Any) -> bool:
    return value not in (False, 0, "", None)


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is not type(right):
        raise Unevaluable(f"comparing {left!r} with {right!r}: GitHub would coerce them; say what you mean")
    return bool(left == right)


def as_text(value: Any) -> str:
    """A value as GitHub writes it into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise Unevaluable(f"{value!r} cannot be written into a string")


def functions(workspace: Path, status: dict[str, bool]) -> dict[str, Callable[..., Any]]:
    """GitHub's functions, with the status checks of the job so far."""

    def hash_files(*patterns: str) -> str:
        files = sorted({p for pattern in patterns for p in workspace.glob(pattern) if p.is_file()})
        if not files:
            return ""
        return hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in files)).hexdigest()

    def format_(text: str, *args: Any) -> str:
        return (
            re.sub(r"\{(\d+)\}", lambda m: as_text(args[int(m[1])]), text.replace("{{", "\0").replace("}}", "\1"))
            .replace("\0", "{")
            .replace("\1", "}")
        )

    def contains(haystack: Any, needle: Any) -> bool:
        if isinstance(haystack, list):
            return any(equal(item, needle) for item in haystack)
        return as_text(needle).casefold() in as_text(haystack).casefold()

    return {
        "fromJSON": json.loads,
        "toJSON": lambda value: json.dumps(value, indent=2),
        "format": format_,
        "contains": contains,
        "hashFiles": hash_files,
        "startsWith": lambda a, b: as_text(a).casefold().startswith(as_text(b).casefold()),
        "endsWith": lambda a, b: as_text(a).casefold().endswith(as_text(b).casefold()),
        **{name: (lambda name=name: status[name]) for name in STATUS},
    }


def substitute(value: Any, evaluator: Evaluator) -> Any:
    """A workflow value with its `${{ ... }}` evaluated: one expression alone keeps its type
    (a matrix's list), several or with text around become text."""
    if isinstance(value, dict):
        return {k: substitute(v, evaluator) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, evaluator) for v in value]
    if not isinstance(value, str):
        return value
    whole = EXPRESSION.fullmatch(value.strip())
    if whole and value.strip().count("${{") == 1:
        return evaluator.evaluate(whole[1])
    return EXPRESSION.sub(lambda m: as_text(evaluator.evaluate(m[1])), value)


def condition(text: Any, evaluator: Evaluator) -> bool:
    """A step's or job's `if:`; without a status check it means `success() && (...)`, as on GitHub."""
    if isinstance(text, bool):
        return text
    expression = str(text).strip()
    whole = EXPRESSION.fullmatch(expression)
    if whole:
        expression = whole[1]
    if not any(re.search(rf"\b{name}\s*\(", expression, re.I) for name in STATUS):
        expression = f"success() && ({expression})"
    return truthy(evaluator.evaluate(expression))
