"""`audit: {suppressions: [...]}`: a finding silenced on purpose, for a reason, until a date.

A suppression silences exactly the findings of its check and resource, while
it has a reason and has not expired. One without a reason or an expiry, one
that has expired, or one naming a check fleet does not run silences nothing
and is itself a finding (AUDIT_SUPPRESSION_CHECK), at its line: a reviewer
sees every exception, and none outlives its date unseen. So is a valid one
that matches no finding of the manifests (its resource misspelt, or what it
excused fixed): it would silence nothing today and the next such finding
unseen tomorrow. Suppressed findings
are still reported (`--json` and SARIF mark them), they just do not fail the
run.
"""

from __future__ import annotations

import datetime
import difflib
from dataclasses import replace

from fleet.audit.findings import CHECKS, Finding, Location, Suppressed
from fleet.manifest.desired import SuppressionSpec

CHECK = CHECKS["AUDIT_SUPPRESSION_CHECK"]


def apply(
    findings: list[Finding],
    suppressions: tuple[SuppressionSpec, ...],
    today: datetime.date,
    *,
    unmatched: bool = True,
) -> list[Finding]:
    """The findings, those a valid suppression covers marked suppressed, and a finding per invalid suppression
    (and, with ``unmatched``, per valid one that covers no finding: not on what AWS holds, which may lack
    what the manifests have)."""
    valid: dict[tuple[str, str], SuppressionSpec] = {}
    problems: list[Finding] = []
    for entry in suppressions:
        why_not = _invalid(entry, today)
        if why_not:
            problems.append(
                Finding(
                    CHECK.name,
                    f"suppression:{entry.check}/{entry.resource}",
                    f"the suppression of {entry.check} for {entry.resource} {why_not}; it silences nothing",
                    Location(entry.file, entry.line, entry.column),
                )
            )
        else:
            valid.setdefault((entry.check, entry.resource), entry)
    marked = []
    for finding in findings:
        covering = valid.get((finding.check, finding.resource))
        if covering is not None:
            finding = replace(
                finding,
                suppressed=Suppressed(
                    covering.reason, str(covering.expires), Location(covering.file, covering.line, covering.column)
                ),
            )
        marked.append(finding)
    if unmatched:
        covered = {(f.check, f.resource) for f in findings}
        problems += [_unmatched(entry, findings) for key, entry in valid.items() if key not in covered]
    return marked + problems


def _unmatched(entry: SuppressionSpec, findings: list[Finding]) -> Finding:
    resources = sorted({f.resource for f in findings if f.check == entry.check})
    close = difflib.get_close_matches(entry.resource, resources, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return Finding(
        CHECK.name,
        f"suppression:{entry.check}/{entry.resource}",
        f"the suppression of {entry.check} for {entry.resource} matches no finding{hint}: remove it, or name "
        "the resource as the finding does (`fleet audit --json` shows it)",
        Location(entry.file, entry.line, entry.column),
    )


def _invalid(entry: SuppressionSpec, today: datetime.date) -> str | None:
    if entry.check not in CHECKS or entry.check == CHECK.name:
        close = difflib.get_close_matches(entry.check, [c for c in CHECKS if c != CHECK.name], n=1)
        return f"names no check fleet runs{f' (did you mean {close[0]}?)' if close else ''}"
    if not entry.reason:
        return "gives no reason"
    if entry.expires is None:
        return "has no expiry date (expires: YYYY-MM-DD)"
    if datetime.date.fromisoformat(entry.expires) < today:
        return f"expired on {entry.expires}"
    return None
