"""Findings as SARIF 2.1.0, for GitHub code scanning: one rule per check, each
result at its file and line, suppressed findings carried with their
justification.

https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html (the format);
https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning
(what GitHub reads: `security-severity` on a rule, `partialFingerprints`, `%SRCROOT%`-relative URIs).
The tests validate the output against the SARIF 2.1.0 schema (schema/sarif-2.1.0.json).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fleet.audit.findings import CHECKS, Finding, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.LOW: "note", Severity.MEDIUM: "warning", Severity.HIGH: "error", Severity.CRITICAL: "error"}
# GitHub maps security-severity to its own levels: over 9.0 critical, 7.0 to 8.9 high, 4.0 to 6.9 medium, else low.
SECURITY_SEVERITY = {Severity.LOW: "2.0", Severity.MEDIUM: "5.5", Severity.HIGH: "8.0", Severity.CRITICAL: "9.5"}
INFORMATION_URI = "https://docs.aws.amazon.com/iot-device-defender/latest/devguide/device-defender-audit-checks.html"


def document(findings: list[Finding], version: str, uri: Callable[[str], str] = str) -> dict[str, Any]:
    """``uri``: a finding's file as a path relative to the repository's root (what %SRCROOT% stands for)."""
    names = sorted(CHECKS)
    rules = [_rule(CHECKS[name].name) for name in names]
    index = {name: i for i, name in enumerate(names)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fleet audit",
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index[f.check], uri) for f in findings],
            }
        ],
    }


def _rule(name: str) -> dict[str, Any]:
    check = CHECKS[name]
    return {
        "id": check.name,
        "name": "".join(word.capitalize() for word in check.name.lower().split("_")),
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": check.why},
        "helpUri": check.url,
        "help": {
            "text": f"{check.why} See {check.url}",
            "markdown": f"{check.why}\n\nThe rule and its severity: [{check.title}]({check.url}).",
        },
        "defaultConfiguration": {"level": LEVELS[check.severity]},
        "properties": {
            "tags": ["security"],
            "precision": "high",
            "problem.severity": LEVELS[check.severity],
            "security-severity": SECURITY_SEVERITY[check.severity],
        },
    }


def _result(finding: Finding, rule_index: int, uri: Callable[[str], str]) -> dict[str, Any]:
    identity = "\0".join(finding.key)
    result: dict[str, Any] = {
        "ruleId": finding.check,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {
            "text": finding.message + (f" (in {'; '.join(str(p) for p in finding.places)})" if finding.places else "")
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri(finding.location.file), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.location.line, "startColumn": finding.location.column},
                }
            }
        ],
        # The same finding keeps its alert from one run to the next, wherever its line moves.
        "partialFingerprints": {"fleetAuditFinding/v1": hashlib.sha256(identity.encode()).hexdigest()},
        "properties": {
            "resource": finding.resource,
            "severity": finding.severity.label,
            "places": [str(p) for p in finding.places],
        },
    }
    if finding.reason_code:
        result["properties"]["reasonCode"] = finding.reason_code
    if finding.suppressed is not None:
        result["suppressions"] = [
            {
                "kind": "inSource",
                "status": "accepted",
                "justification": f"{finding.suppressed.reason} (until {finding.suppressed.expires}; "
                f"{finding.suppressed.location.file}:{finding.suppressed.location.line})",
            }
        ]
    return result
