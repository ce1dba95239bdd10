"""`fleet audit`: Device Defender's certificate and policy checks on the manifests (or, with --aws, on what
AWS holds), each finding at its file and line."""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet import DISTRIBUTION
from fleet.audit.findings import Finding, Severity
from fleet.cli.base import ManifestsOption, app, count, fail, load, say

FAIL_ON = [severity.label for severity in Severity]


@app.command()
def audit(
    manifests: ManifestsOption = Path("manifests"),
    as_json: Annotated[bool, typer.Option("--json", help="print the findings as a JSON list")] = False,
    sarif: Annotated[
        Path | None, typer.Option("--sarif", help="also write them as SARIF 2.1.0 to this file (GitHub code scanning)")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on", help=f"exit 1 on an unsuppressed finding of this severity or higher: {', '.join(FAIL_ON)}"
        ),
    ] = "low",
    aws: Annotated[
        bool,
        typer.Option(
            "--aws",
            help="audit what AWS holds in every account and region of the "
            "manifests instead (read-only; the reader role with FLEET_READER_ROLE)",
        ),
    ] = False,
) -> None:
    """AWS IoT Device Defender's certificate and policy audit checks on the manifests, with no AWS call:
    expiring and weak certificates, revoked CAs still in use, overly permissive or misconfigured policies,
    and certificates re-issued for a key the revocation ledger revoked. Exit 1 on an unsuppressed finding
    of --fail-on's severity or higher."""
    if fail_on.lower() not in FAIL_ON:
        fail(f"fleet audit: --fail-on is one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    findings, root = audit_findings(manifests, aws=aws)
    if sarif is not None:
        _write_sarif(sarif, findings, root, manifests)
    if as_json:
        sys.stdout.write(json.dumps([f.as_json() for f in findings], indent=2) + "\n")
    else:
        for finding in findings:
            say(
                str(finding)
                + (
                    f" [suppressed until {finding.suppressed.expires}: {finding.suppressed.reason}]"
                    if finding.suppressed
                    else ""
                )
            )
        say(summary(findings, "AWS" if aws else str(manifests)))
    threshold = Severity.named(fail_on)
    if any(f.suppressed is None and f.severity >= threshold for f in findings):
        raise typer.Exit(1)


def audit_findings(manifests: Path, *, aws: bool = False) -> tuple[list[Finding], Path]:
    """The findings, and the folder their file paths are relative to; a manifest problem fails (exit 1)."""
    from fleet.audit import from_manifests, run

    collector = from_manifests.FactsCollector()
    fleet = load(manifests, observe=collector)
    root = manifests.resolve().parent
    declared = from_manifests.inventory(fleet, collector.facts, root)
    inventory = declared
    if aws:
        from fleet.audit import aws_state
        from fleet.aws.errors import AwsError
        from fleet.aws.session import shared_factory

        try:
            inventory = aws_state.inventory(fleet, collector.facts, shared_factory(), declared)
        except AwsError as error:
            fail(f"could not read AWS: {error}")
    return run(inventory, fleet.audit, datetime.datetime.now(datetime.UTC), aws=aws), root


def findings_in(manifests: Path, repository: Path | None) -> list[Finding]:
    """The manifests' findings (paths relative to ``repository``, or the manifests' parent); raises
    ManifestError when they do not load."""
    from fleet.audit import from_manifests, run
    from fleet.aws.regions import iot_regions
    from fleet.manifest import load_fleet

    collector = from_manifests.FactsCollector()
    root = repository or manifests.resolve().parent
    fleet = load_fleet(
        manifests, known_regions=iot_regions(), display_root=root, repository=repository, observe=collector
    )
    return run(from_manifests.inventory(fleet, collector.facts, root), fleet.audit, datetime.datetime.now(datetime.UTC))


def introduced_since(base: str, manifests: Path) -> list[Finding] | str:
    """The findings of the manifests here that the manifests at ``base`` do not have (by check, resource and
    reason), or why they cannot be told: the base's tree is read with `git archive`, never checked out here."""
    import io
    import subprocess
    import tarfile
    import tempfile

    from fleet.manifest import ManifestError
    from fleet.manifest import ledger_history as history

    top = history.work_tree(manifests)
    if top is None:
        return f"{manifests} is not in a git work tree"
    try:
        now = findings_in(manifests, top)
    except ManifestError:
        return "the manifests do not load (fleet validate says why)"
    where = manifests.resolve().relative_to(top)
    done = subprocess.run(
        ["git", "archive", "--format=tar", base], cwd=top, capture_output=True, check=False, timeout=600
    )
    if done.returncode != 0:
        return f"git archive {base} failed: {done.stderr.decode(errors='replace').strip()}"
    with tempfile.TemporaryDirectory(prefix="fleet-audit-base-") as folder:
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tree:
            tree.extractall(folder, filter=_within)  # noqa: S202 (tarfile's data filter, in _within)
        try:
            before = {_where(f) for f in findings_in(Path(folder) / where, Path(folder))}
        except ManifestError:
            before = set()  # the base's manifests do not load: every finding here is new to it
    return [f for f in now if _where(f) not in before]


def _where(finding: Finding) -> tuple[Any, ...]:
    """A finding and where it matters: one the base has, now in an account or region more, is new there."""
    return (*finding.key, frozenset((p.account_id, p.region) for p in finding.places))


def _within(member: Any, destination: str) -> Any:
    """tarfile's "data" filter, skipping what it refuses (a link out of the tree, say) rather than
    failing the whole base: the manifests' own rules refuse anything they reach through one."""
    import tarfile

    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None


def review_lines(findings: list[Finding]) -> list[tuple[bool, str]]:
    """Each finding as a line of `fleet review`'s Markdown, and whether it is high or critical."""
    lines = []
    for f in findings:
        where = f" in {'; '.join(str(p) for p in f.places)}" if f.places else ""
        suppressed = f" (suppressed until {f.suppressed.expires}: {f.suppressed.reason})" if f.suppressed else ""
        lines.append(
            (
                f.severity >= Severity.HIGH and f.suppressed is None,
                f"**{f.severity.label}** `{f.check}` {f.resource}{where}: {f.message} "
                f"(`{f.location.file}:{f.location.line}`){suppressed}",
            )
        )
    return lines


def summary(findings: list[Finding], what: str) -> str:
    open_ = [f for f in findings if f.suppressed is None]
    if not findings:
        return f"{what}: no findings"
    by = ", ".join(
        f"{sum(1 for f in open_ if f.severity == s)} {s.label}"
        for s in reversed(Severity)
        if any(f.severity == s for f in open_)
    )
    suppressed = len(findings) - len(open_)
    return (
        f"{what}: {count(len(open_), 'finding')}"
        + (f" ({by})" if by else "")
        + (f", {suppressed} suppressed" if suppressed else "")
    )


def _write_sarif(path: Path, findings: list[Finding], root: Path, manifests: Path) -> None:
    from importlib import metadata

    from fleet.audit import sarif
    from fleet.manifest import ledger_history as history

    top = history.work_tree(manifests) or root

    def uri(file: str) -> str:
        return Path(os.path.relpath(root / file, top)).as_posix()

    try:
        path.write_text(
            json.dumps(sarif.document(findings, metadata.version(DISTRIBUTION), uri), indent=2) + "\n", encoding="utf-8"
        )
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror}")
