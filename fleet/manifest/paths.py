"""Files the manifests name stay inside the repository.

Every path a manifest gives (certificates, keys, revocation lists, policy
documents, folders of PEMs and each file in them) is resolved, symlinks
followed, and must land inside the repository (the git work tree holding the
manifests, else their parent folder) or inside a folder a manifest lists
under ``outside_repository:`` (where CA private keys are often kept). A path
written with ``..`` or a symlink pointing out is refused, naming how to allow
it, before fleet reads a byte of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ALLOW = "outside_repository"


@dataclass(frozen=True)
class Confinement:
    repository: Path
    allowed: tuple[Path, ...] = ()

    def problem(self, written: str, path: Path) -> str | None:
        """Why ``path`` (as the manifest wrote it: ``written``) may not be read, or None."""
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError) as error:  # a symlink loop
            return f"{written}: cannot resolve it ({error})"
        if any(resolved.is_relative_to(root) for root in (self.repository, *self.allowed)):
            return None
        return (
            f"{written} is {resolved}, outside the repository ({self.repository}); fleet reads files outside "
            f"it only under a folder a manifest lists in {ALLOW}: (for example, where CA private keys are kept)"
        )

    @classmethod
    def of(cls, repository: Path, allowed: Iterable[str]) -> Confinement:
        return cls(repository.resolve(), tuple(Path(folder).resolve() for folder in allowed))
