"""The files an import writes, as steps in an order that keeps the manifests
valid at every instant, so that a kill between any two steps leaves
manifests a re-run reads, and the re-run ends with the same files:

1. each new CA's PEM, then the manifests that declare the CAs (new entries
   appended, placements and ``registered_in`` added to declared ones);
2. each new policy's document under ``policies/``, then the manifest that
   declares the policies;
3. per group: its PEMs moved into ``imported/<group>/``, then
   ``imported/<group>.yaml`` (a group's file appears once its folder is whole;
   a folder no manifest names yet is inert);
4. the revocation ledger's entries, with a copy of each PEM;
5. the import's leftovers removed: the fetched PEMs and their journal, and
   folders of an earlier, killed import that nothing names.

Existing manifests are edited round-trip (fleet.manifest.editing): comments,
order and hand edits stay; a file with nothing new is not rewritten.
"""

from __future__ import annotations

import os
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fleet.crypto import pki
from fleet.importing.cas import CaImport, Settings
from fleet.importing.certificates import Group
from fleet.importing.estate import Place
from fleet.importing.existing import Existing
from fleet.importing.fetching import PEM_NAME, STAGING
from fleet.importing.policies import PolicyImport
from fleet.manifest import editing
from fleet.revocation.ledger import Batch

IMPORTED = "imported"  # under the manifests folder: a file and a folder of PEMs per group
SCHEMA = Path("schema") / "manifest.schema.json"  # beside the manifests folder, as `fleet init` writes it
SAID = "imported from AWS by `fleet import`"


@dataclass(frozen=True)
class Write:
    path: Path
    text: str


@dataclass(frozen=True)
class Move:
    source: Path
    target: Path


@dataclass(frozen=True)
class Record:
    batches: tuple[Batch, ...]


@dataclass(frozen=True)
class Clean:
    files: tuple[Path, ...]  # the import's own files, removed
    folders: tuple[Path, ...]  # then removed when empty


Step = Write | Move | Record | Clean


def steps(
    existing: Existing,
    cas: Iterable[CaImport],
    policies: Iterable[PolicyImport],
    groups: Iterable[Group],
    batches: Iterable[Batch],
    pems: Mapping[str, Path],
) -> list[Step]:
    """``pems``: fingerprint -> where its PEM is now."""
    manifests = existing.manifests
    plan: list[Step] = []
    plan += _cas(existing, list(cas))
    plan += _policies(existing, list(policies))
    groups = list(groups)
    where = dict(pems)
    for group in groups:
        plan += _group(manifests, group, where)
    batches = tuple(batches)
    if batches:
        plan.append(Record(batches))
    plan.append(_leftovers(existing, groups, where))
    return plan


# --- CAs -------------------------------------------------------------------------------------------------


def _cas(existing: Existing, cas: list[CaImport]) -> list[Step]:
    manifests = existing.manifests
    written: list[Step] = []
    pem_paths: dict[str, Path] = {}
    for ca in (c for c in cas if not c.declared):
        path = _free_path(manifests / "pki", ca.name, ".pem", ca.pem, same=_same_certificate)
        pem_paths[ca.name] = path
        written.append(Write(path, ca.pem))
    by_file: dict[Path, list[CaImport]] = defaultdict(list)
    for ca in cas:
        by_file[existing.ca_files[ca.name] if ca.declared else existing.file_for("cas", "cas.yaml")].append(ca)
    for path, edits in sorted(by_file.items()):
        data = _load(path, manifests)
        section = _section(data, "cas")
        for ca in edits:
            if ca.declared:
                entry = section[ca.name]
                entry.setdefault("placements", CommentedSeq()).extend(_placements(ca.places))
                if ca.registered_in:
                    entry.setdefault("registered_in", CommentedSeq()).extend(ca.registered_in)
                continue
            entry = CommentedMap()
            entry["certificate"] = _relative(pem_paths[ca.name], path.parent)
            entry["mode"] = ca.mode
            if ca.registered_in:
                entry["registered_in"] = CommentedSeq(ca.registered_in)
            entry["placements"] = CommentedSeq(_placements(ca.places))
            section[ca.name] = entry
            section.yaml_set_comment_before_after_key(ca.name, before=f"{SAID} ({_places(ca.places)})", indent=2)
        written.append(Write(path, editing.dump(data)))
    return written


def _placements(places: Iterable[tuple[Place, Settings]]) -> list[CommentedMap]:
    """One placement per account and settings, its regions listed (always: a region added to the account
    later is not a place the CA is registered in)."""
    regions: dict[tuple[str, Settings], list[str]] = defaultdict(list)
    for place, settings in sorted(places):
        regions[(place.account, settings)].append(place.region)
    made = []
    for (account, settings), names in sorted(regions.items()):
        placement = CommentedMap()
        placement["account"] = account
        placement["regions"] = _flow(names)
        placement["status"] = settings.status
        placement["auto_registration"] = settings.auto_registration
        if settings.registration_config:
            placement["registration_config"] = CommentedMap(settings.registration_config)
        made.append(placement)
    return made


def _places(places: Iterable[tuple[Place, Settings]]) -> str:
    return "registered in " + ", ".join(place.label for place, _ in places)


# --- policies -------------------------------------------------------------------------------------------


def _policies(existing: Existing, policies: list[PolicyImport]) -> list[Step]:
    if not policies:
        return []
    manifests = existing.manifests
    path = existing.file_for("policies", "policies.yaml")
    written: list[Step] = []
    data = _load(path, manifests)
    section = _section(data, "policies")
    for policy in policies:
        document = _free_path(manifests.parent / "policies", policy.name, ".json", policy.document)
        written.append(Write(document, policy.document))
        entry = CommentedMap()
        entry["document"] = _relative(document, path.parent)
        if policy.keep_other_versions:
            entry["other_versions"] = "keep"
        section[policy.name] = entry
        how = "; {{account_id}} and {{region}} where its places differ" if policy.templated else ""
        section.yaml_set_comment_before_after_key(policy.name, before=SAID + how, indent=2)
    written.append(Write(path, editing.dump(data)))
    return written


# --- groups ---------------------------------------------------------------------------------------------


def _group(manifests: Path, group: Group, where: dict[str, Path]) -> list[Step]:
    folder = manifests / IMPORTED / group.name
    moves: list[Step] = []
    if folder.is_dir():  # a killed import's folder: what it holds that this group does not take goes back
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            match = PEM_NAME.match(entry.name)
            if match and match[1] not in group.certificates:
                back = manifests / STAGING / entry.name
                moves.append(Move(Path(entry.path), back))
                where[match[1]] = back
    for fp in group.certificates:
        target = folder / f"{fp}.pem"
        source = where[fp]
        if source == target:
            continue
        if source.is_relative_to(manifests / IMPORTED):
            moves.append(Move(source, target))
        else:  # a PEM the manifests keep elsewhere (the ledger's copies): copied, never taken away
            moves.append(Write(target, source.read_text(encoding="utf-8")))
        where[fp] = target
    path = manifests / IMPORTED / f"{group.name}.yaml"
    return [*moves, Write(path, _group_text(manifests, path, group))]


def _group_text(manifests: Path, path: Path, group: Group) -> str:
    entry = CommentedMap()
    if group.ca:
        entry["ca"] = group.ca
    entry["certificates"] = group.name
    accounts: dict[str, list[str]] = defaultdict(list)
    for place in group.places:
        accounts[place.account].append(place.region)
    entry["placements"] = CommentedSeq(
        CommentedMap(account=account, regions=_flow(regions)) for account, regions in sorted(accounts.items())
    )
    entry["status"] = group.status
    if group.policies:
        entry["policies"] = _flow(group.policies)
    if group.things != "none":
        entry["things"] = group.things
    exceptions = [
        CommentedMap(certificate=f"{group.name}/{fp}.pem", status=status)
        for fp, status in group.certificates.items()
        if status != group.status
    ]
    if exceptions:
        entry["exceptions"] = CommentedSeq(exceptions)
    data = _new(path, manifests)
    data["device_certificates"] = CommentedMap({group.name: entry})
    under = f"under CA {group.ca}" if group.ca else "without a CA"
    said = (
        f"{SAID[0].upper()}{SAID[1:]}: {len(group.certificates):,} certificate(s) registered {under} in "
        f"{', '.join(p.label for p in group.places)}, each {group.status} unless an exception says otherwise; "
        f"their PEMs are in {group.name}/."
    )
    data.yaml_set_start_comment(_header(path, manifests) + textwrap.fill(said, width=100))
    return editing.dump(data)


def _leftovers(existing: Existing, groups: list[Group], where: Mapping[str, Path]) -> Clean:
    manifests = existing.manifests
    imported = manifests / IMPORTED
    staging = manifests / STAGING
    placed = set(where.values())
    files = set(staging.iterdir()) if staging.is_dir() else set()
    files |= {p for p in placed if p.parent == staging}
    kept = {group.name for group in groups} | {
        Path(g.path).name for g in existing.fleet.certificate_groups if Path(g.path).parent == imported.resolve()
    }
    folders = [staging]
    for entry in sorted(os.scandir(imported), key=lambda e: e.name) if imported.is_dir() else []:
        if not entry.is_dir() or entry.name in kept or entry.name.startswith("."):
            continue
        inside = [Path(e.path) for e in os.scandir(entry.path)]
        if all(PEM_NAME.match(p.name) for p in inside):  # only a killed import's own PEMs
            files |= {p for p in inside if p not in placed}
            folders.append(Path(entry.path))
    return Clean(tuple(sorted(files)), tuple(folders))


# --- YAML and paths -------------------------------------------------------------------------------------


def _load(path: Path, manifests: Path) -> Any:
    data = editing.load(path) if path.exists() else None
    return data if isinstance(data, CommentedMap) else _new(path, manifests)


def _new(path: Path, manifests: Path) -> CommentedMap:
    data = CommentedMap()
    header = _header(path, manifests).rstrip("\n")
    if header:
        data.yaml_set_start_comment(header)
    return data


def _header(path: Path, manifests: Path) -> str:
    schema = manifests.parent / SCHEMA
    if not schema.is_file():
        return ""
    return f"yaml-language-server: $schema={_relative(schema, path.parent)}\n\n"


def _section(data: CommentedMap, key: str) -> CommentedMap:
    section = data.get(key)
    if not isinstance(section, CommentedMap):
        section = CommentedMap()
        data[key] = section
    section.fa.set_block_style()  # `policies: {}` grows into a block, not a long flow mapping
    return section


def _flow(items: Iterable[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _free_path(folder: Path, name: str, suffix: str, text: str, same: Any = None) -> Path:
    """``folder/name+suffix``, unless a file there holds something else: then ``name-2``, ``name-3``..."""
    n = 1
    while True:
        path = folder / (f"{name}{suffix}" if n == 1 else f"{name}-{n}{suffix}")
        if not path.exists() or (same or _same_text)(path, text):
            return path
        n += 1


def _same_text(path: Path, text: str) -> bool:
    return path.read_text(encoding="utf-8") == text


def _same_certificate(path: Path, pem: str) -> bool:
    try:
        return pki.certificate_id(pki.load_certificate(path.read_bytes())) == pki.certificate_id(
            pki.load_certificate(pem.encode())
        )
    except (OSError, pki.CertificateError):
        return False
