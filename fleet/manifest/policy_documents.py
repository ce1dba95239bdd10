"""AWS IoT's own rules for a policy document, checked before any call.

https://docs.aws.amazon.com/iot/latest/developerguide/iot-policies.html and
iot-policy-actions.html: a JSON object with Version "2012-10-17" and
Statement (one statement or a list of them); each statement with Effect
(Allow or Deny), Action and Resource (a string or a list of strings), and
optionally Sid and Condition.
"""

from __future__ import annotations

import json
from typing import Any

from fleet.manifest.problems import did_you_mean

VERSION = "2012-10-17"
TOP = ("Version", "Statement", "Id")
STATEMENT = ("Sid", "Effect", "Action", "Resource", "Condition")


def parse(text: str) -> tuple[Any, str | None]:
    """The document, or why it is not JSON fleet reads."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"not valid JSON: {error.msg} at line {error.lineno}"
    except RecursionError:
        return None, "not valid JSON fleet reads: nested too deeply"


def shape_problem(document: Any) -> str | None:
    """Why ``document`` is not an IoT policy document, or None."""
    if not isinstance(document, dict):
        return f"a policy document is a JSON object with Version and Statement, not a {_kind(document)}"
    for key in document:
        if key not in TOP:
            return f"unknown key {key!r}{did_you_mean(str(key), TOP)}; a policy document has {', '.join(TOP)}"
    if document.get("Version") != VERSION:
        return f"Version must be {VERSION!r}, not {document.get('Version')!r}"
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return "Statement must be a statement or a non-empty list of statements"
    for index, statement in enumerate(statements):
        problem = _statement_problem(statement)
        if problem:
            return f"Statement[{index}]: {problem}"
    return None


def _statement_problem(statement: Any) -> str | None:
    if not isinstance(statement, dict):
        return f"a statement is a JSON object, not a {_kind(statement)}"
    for key in statement:
        if key not in STATEMENT:
            return f"unknown key {key!r}{did_you_mean(str(key), STATEMENT)}"
    if statement.get("Effect") not in ("Allow", "Deny"):
        return f"Effect must be 'Allow' or 'Deny', not {statement.get('Effect')!r}"
    for key in ("Action", "Resource"):
        value = statement.get(key)
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            return f"{key} must be a string or a non-empty list of strings"
        bad = [v for v in values if ":" not in v] if key == "Action" else []
        if bad:
            return f"each Action is service:action (iot:Connect, iot:*), not {bad[0]!r}"
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        return "Condition must be a JSON object"
    return None


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")
