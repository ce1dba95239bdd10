"""What an import says besides the files it writes: each thing kept, left out
or in conflict with the manifests, and why."""

from __future__ import annotations

from dataclasses import dataclass

# Kinds of note, in the order the report gives them.
CONFLICT = "conflicts with the manifests (left as the manifests say)"
LEFT_OUT = "left out"
KEPT = "kept for you to decide"
FIRST_UP = "what the first pulumi up will change"
KINDS = (FIRST_UP, CONFLICT, KEPT, LEFT_OUT)


@dataclass(frozen=True, order=True)
class Note:
    kind: str
    subject: str  # "policy telemetry", "certificate 3fa2…", "CA factory-root"
    text: str
    place: str = ""  # "prod/us-east-1", when it is about one place
