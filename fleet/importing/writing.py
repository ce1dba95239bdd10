"""Carry out an import's steps (fleet.importing.plan), in their order, each
file whole or not at all; what did not change is not rewritten."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from fleet.files import write_atomic
from fleet.importing.plan import Clean, Move, Record, Step, Write
from fleet.manifest.desired import Fleet
from fleet.revocation import ledger


def apply(manifests: Path, fleet: Fleet, steps: Iterable[Step]) -> list[Path]:
    """The files written or moved into place."""
    changed: list[Path] = []
    for step in steps:
        if isinstance(step, Write):
            if not step.path.exists() or step.path.read_text(encoding="utf-8") != step.text:
                write_atomic(step.path, step.text)
                changed.append(step.path)
        elif isinstance(step, Move):
            step.target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(step.source, step.target)
            changed.append(step.target)
        elif isinstance(step, Record):
            changed += ledger.record(manifests, fleet, step.batches)
        elif isinstance(step, Clean):
            for path in step.files:
                path.unlink(missing_ok=True)
            for folder in step.folders:
                if folder.is_dir() and not any(p.suffix == ".pem" for p in folder.iterdir()):
                    shutil.rmtree(folder)  # the journal, and nothing the import did not write
    return changed
