"""What the manifests declare already, as an import needs it: what they name
(so that nothing new takes a name in use), which CA each certificate id is,
each declared policy's document, each declared certificate, and the files
that hold each section (where new entries are added, round-trip)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from fleet.manifest import editing
from fleet.manifest.desired import CertificateGroupSpec, DeviceCertificate, Fleet


@dataclass(frozen=True)
class DeclaredPolicy:
    name: str
    file: Path  # the manifest declaring it
    document: str  # its document's text, placeholders and all ("" when it cannot be read)
    keep_other_versions: bool


@dataclass
class Existing:
    manifests: Path
    fleet: Fleet
    ca_names: dict[str, str] = field(default_factory=dict)  # certificate id -> CA name
    ca_files: dict[str, Path] = field(default_factory=dict)  # CA name -> the manifest declaring it
    policies: dict[str, DeclaredPolicy] = field(default_factory=dict)
    group_names: set[str] = field(default_factory=set)
    # fingerprint -> (its group in each account and region it is declared in, its declaration)
    certificates: dict[str, list[tuple[CertificateGroupSpec, DeviceCertificate]]] = field(default_factory=dict)
    sections: dict[str, list[Path]] = field(default_factory=dict)  # section -> top-level files that have it

    def file_for(self, section: str, default: str) -> Path:
        """The first top-level manifest with ``section``, else ``manifests/<default>``."""
        files = self.sections.get(section) or []
        return files[0] if files else self.manifests / default


def read(manifests: Path, fleet: Fleet) -> Existing:
    """``fleet``: the manifests, loaded and valid (an import starts from valid manifests)."""
    found = Existing(manifests, fleet)
    for spec in fleet.ca_placements:
        found.ca_names[spec.certificate_id] = spec.ca
    for group in fleet.certificate_groups:
        found.group_names.add(group.group)
        for cert in group.certificates:
            found.certificates.setdefault(cert.fingerprint, []).append((group, cert))
    for path in sorted(manifests.rglob("*.yaml")) + sorted(manifests.rglob("*.yml")):
        data = editing.load(path)
        if not isinstance(data, CommentedMap):
            continue
        for section in ("cas", "policies", "device_certificates", "revocations"):
            if section in data and path.parent == manifests:
                found.sections.setdefault(section, []).append(path)
        for name in data.get("cas") or {}:
            found.ca_files[str(name)] = path
        for name, entry in (data.get("policies") or {}).items():
            found.policies[str(name)] = DeclaredPolicy(
                str(name), path, _document(path, entry), entry.get("other_versions") == "keep"
            )
        found.group_names.update(str(name) for name in data.get("device_certificates") or {})
    return found


def _document(manifest: Path, entry: Any) -> str:
    try:
        return (manifest.parent / str(entry["document"])).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, KeyError, TypeError):
        return ""
