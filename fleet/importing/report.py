"""What `fleet import` prints once it has written: what it found and declared,
the files to review, what waits for a decision (as `fleet pending` says it),
and every note: what the first `pulumi up` will change, conflicts with the
manifests, what is kept for the team to decide, and what is left out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from fleet.importing.fetching import PEM_NAME
from fleet.importing.notes import KINDS, Note
from fleet.importing.run import Outcome
from fleet.reports.console_table import print_table

SHOWN = 20  # notes of one kind printed before "... and N more"


def print_report(console: Console, outcome: Outcome, root: Path, say: Callable[[str], None]) -> None:
    found = sum(len(e.certificates) for e in outcome.estates)
    say(
        f"Read {len(outcome.estates)} account(s) and region(s): "
        f"{len({ca for e in outcome.estates for ca in e.cas})} CA(s), "
        f"{len({p for e in outcome.estates for p in e.policies})} policies, {found:,} certificate(s)."
    )
    declared = sum(len(g.certificates) for g in outcome.grouped.groups)
    revoked = sum(len(b.certificates) for b in outcome.grouped.batches)
    say(
        f"Declared: {len([c for c in outcome.cas.imported if not c.declared])} new CA(s) "
        f"({len([c for c in outcome.cas.imported if c.declared])} declared CA(s) placed further), "
        f"{len(outcome.policies.imported)} new policies, {declared:,} certificate(s) in "
        f"{len(outcome.grouped.groups)} group(s), {revoked:,} revocation(s) into the ledger."
    )
    _files(outcome.changed, root, say)
    print_table(
        console,
        f"{len(outcome.grouped.pending)} certificate(s) waiting for a decision, not imported",
        ("CA", "account", "region", "certificate", "auto_activation", "decision"),
        (
            (p.ca, p.place.account, p.place.region, p.fingerprint, p.auto_activation, p.decision)
            for p in outcome.grouped.pending
        ),
        empty="No certificate waits for a decision (PENDING_ACTIVATION, PENDING_TRANSFER, REGISTER_INACTIVE).",
    )
    by_kind: dict[str, list[Note]] = defaultdict(list)
    for note in outcome.notes:
        by_kind[note.kind].append(note)
    for kind in KINDS:
        notes = by_kind.get(kind, [])
        if not notes:
            continue
        say(f"\n{kind.capitalize()}: {len(notes)}")
        for note in notes[:SHOWN]:
            say(f"  {note.subject}" + (f" ({note.place})" if note.place else "") + f": {note.text}")
        if len(notes) > SHOWN:
            say(f"  ... and {len(notes) - SHOWN:,} more")


def _files(changed: list[Path], root: Path, say: Callable[[str], None]) -> None:
    """The manifests and documents written, one a line; PEMs counted per folder."""
    pems: dict[Path, int] = defaultdict(int)
    others = []
    for path in sorted(set(changed)):
        if PEM_NAME.match(path.name) and path.parent.name != "pki":
            pems[path.parent] += 1
        else:
            others.append(path)
    if not others and not pems:
        say("Nothing new to write: the manifests declare everything the import can declare.")
        return
    say(f"\nWrote {len(others) + sum(pems.values()):,} file(s); review them, commit, and open a pull request:")
    for path in others:
        say(f"  {_shown(path, root)}")
    for folder, count in sorted(pems.items()):
        say(f"  {_shown(folder, root)}/ ({count:,} PEM file(s))")


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
