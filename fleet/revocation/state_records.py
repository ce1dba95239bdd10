"""What the Pulumi state of each stack of this project recorded: a memory of
revocations that survives the manifests (an entry removed, an account
dropped) and tells which accounts and regions each stack manages.

Read by the program through the Pulumi CLI it runs under (`pulumi stack ls`,
`pulumi stack export`; neither takes the update lock), so it works on every
backend. Without a CLI or backend at hand this memory is off, and the run
says so rather than failing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.model.declarations import CERTIFICATES_SPEC, INPUTS, CaPlacementInputs, Entry

PULUMI_SECONDS = 300
Place = tuple[str, str]  # (account id, region)


class StateUnavailable(Exception):
    """The stacks' recorded state could not be read."""


@dataclass
class Recorded:
    stack: str
    places: dict[Place, str] = field(default_factory=dict)  # where its resources are -> the role they use
    revoked: dict[Place, set[str]] = field(default_factory=dict)  # fingerprints it recorded REVOKED there
    cas: dict[Place, set[str]] = field(default_factory=dict)  # the CA ids of its CA placements there


def read(project_dir: Path, environ: Mapping[str, str] | None = None) -> list[Recorded]:
    stacks = _pulumi(project_dir, environ, "stack", "ls", "--json")
    names = sorted(str(s["name"]) for s in stacks if isinstance(s, dict) and "name" in s)
    return [_recorded(name, _pulumi(project_dir, environ, "stack", "export", "--stack", name)) for name in names]


def _recorded(stack: str, exported: Any) -> Recorded:
    found = Recorded(stack.split("/")[-1])
    resources = ((exported or {}).get("deployment") or {}).get("resources") or []
    for resource in resources:
        kind = str(resource.get("type", "")).rsplit("/", 1)[-1]
        inputs = INPUTS.get(kind)
        outputs = resource.get("outputs") or {}
        if inputs is None or not outputs:
            continue
        try:
            declared = inputs.of(outputs)
        except TypeError:
            continue  # a shape this version does not read: nothing to learn from it
        found.places[declared.place] = str(getattr(declared, "role_arn", ""))
        if isinstance(declared, CaPlacementInputs):
            found.cas.setdefault(declared.place, set()).add(declared.certificate_id)
        if kind == CERTIFICATES_SPEC.token:
            revoked = {
                fp
                for fp, (status, _) in declared.declared().items()  # type: ignore[attr-defined]
                if _revoked(status)
            }
            if revoked:
                found.revoked.setdefault(declared.place, set()).update(revoked)
    return found


def _revoked(stored: object) -> bool:
    try:
        return Entry.read(stored).revoked
    except TypeError:  # an entry of a shape this version does not read (a hand-edited state)
        return False


def _pulumi(project_dir: Path, environ: Mapping[str, str] | None, *args: str) -> Any:
    try:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=PULUMI_SECONDS,
            check=False,
            env=dict(environ) if environ is not None else None,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StateUnavailable(f"pulumi {' '.join(args)}: {error}") from error
    if done.returncode != 0:
        raise StateUnavailable(f"pulumi {' '.join(args)}: {done.stderr.strip()[:500]}")
    try:
        return json.loads(done.stdout or "null")
    except json.JSONDecodeError as error:
        raise StateUnavailable(f"pulumi {' '.join(args)} printed no JSON: {error}") from error
