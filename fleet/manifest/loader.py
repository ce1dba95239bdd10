"""Load the manifests folder in three stages: YAML structure, then the schema
per file, then rules across files. A ManifestError lists every problem found:
entries with schema problems are set aside and the rules run on the rest, so
one run reports every mistake (a rule's complaint about a name set aside is
left out: its schema problem already says what is wrong)."""

from __future__ import annotations

import datetime
import os
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography import x509
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from fleet.manifest import paths, rules, source
from fleet.manifest.desired import Fleet
from fleet.manifest.model import ManifestFile
from fleet.manifest.problems import FieldPath, ManifestError, Problem, did_you_mean

MAX_FILES = 2_000  # YAML files under the manifests folder
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # all of them together


def load_fleet(
    directory: Path,
    known_regions: Iterable[str],
    now: datetime.datetime | None = None,
    display_root: Path | None = None,
    ledger_history: frozenset[str] = frozenset(),
    unrecorded_ok: bool = False,
    repository: Path | None = None,
    require_keys: bool = False,
    observe: Callable[[str, x509.Certificate], None] | None = None,
    expired_ok: bool = False,
) -> Fleet:
    """Read and check every ``*.yaml`` under ``directory``; nothing touches AWS.
    ``ledger_history``: every fingerprint the revocation ledger's history ever
    held (fleet.manifest.ledger_history), refused like the ledger's own.
    ``unrecorded_ok``: a REVOKED certificate the ledger does not record yet is
    no problem (for `fleet record-revocations`, which records it).
    ``repository``: the folder every path must stay in (default: the
    manifests' parent; callers pass the git work tree).
    ``require_keys``: every DEFAULT-mode CA's private key must be readable.
    ``observe``: called with (fingerprint, certificate) for each device certificate read.
    ``expired_ok``: an expired CA or device certificate is no problem (`fleet expiry` lists them).
    What AWS accepts but deserves a word comes back as the fleet's ``warnings``."""
    directory = directory.resolve()
    root = display_root.resolve() if display_root else Path.cwd()
    confinement = paths.Confinement.of(repository or directory.parent, ())
    found = _manifest_files(directory, root, confinement)
    if isinstance(found, Problem):
        raise ManifestError([found])

    parsed = [source.read(path, _display(path, root)) for path in found]
    _raise_if([p for p in parsed if isinstance(p, Problem)])
    files = [f for f in parsed if isinstance(f, source.SourceFile)]

    documents: list[tuple[source.SourceFile, Path, ManifestFile]] = []
    schema_problems: list[Problem] = []
    set_aside = _SetAside()
    for file, path in zip(files, found, strict=True):
        try:
            documents.append((file, path.parent, ManifestFile.model_validate(file.data)))
        except ValidationError as error:
            schema_problems.extend(_schema_problem(file, detail) for detail in error.errors())
            rest = _valid_rest(file.data, error, set_aside)
            if rest is not None:
                documents.append((file, path.parent, rest))
    if set_aside.whole_section:  # the rules would only echo a missing section's absence
        _raise_if(schema_problems)

    checked_now = now or datetime.datetime.now(datetime.UTC)
    allowed = [folder for _, _, doc in documents for folder in doc.outside_repository]
    confinement = paths.Confinement.of(confinement.repository, allowed)
    fleet, problems = rules.check(
        documents,
        frozenset(known_regions),
        checked_now,
        directory,
        ledger_history,
        unrecorded_ok,
        confinement,
        require_keys,
        observe,
        expired_ok,
    )
    _raise_if(schema_problems + [p for p in problems if not set_aside.named_in(p)])
    return fleet


class _SetAside:
    """What the schema stage set aside: named entries (``cas.factory``), or a whole section."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.whole_section = False

    def named_in(self, problem: Problem) -> bool:
        return any(f"{name!r}" in problem.message for name in self.names)


def _valid_rest(data: Any, error: ValidationError, set_aside: _SetAside) -> ManifestFile | None:
    """The file without the entries that have schema problems, when the rest is valid."""
    if not isinstance(data, dict):
        set_aside.whole_section = True
        return None
    rest = dict(data)
    for detail in error.errors():
        loc = detail["loc"]
        section = loc[0] if loc else None
        if len(loc) >= 2 and section in _NAMED_SECTIONS and isinstance(rest.get(section), dict):
            rest[section] = {name: entry for name, entry in rest[section].items() if name != loc[1]}
            set_aside.names.add(str(loc[1]))
        else:  # a section that is not a mapping of names, an unknown section, the ledger
            if isinstance(section, str):
                rest.pop(section, None)
            set_aside.whole_section = True
    try:
        return ManifestFile.model_validate(rest)
    except ValidationError:
        set_aside.whole_section = True
        return None


_NAMED_SECTIONS = ("accounts", "cas", "policies", "device_certificates")


def _manifest_files(directory: Path, root: Path, confinement: paths.Confinement) -> list[Path] | Problem:
    """Every *.yaml or *.yml file under ``directory`` (linked folders are not entered), within
    bounds on their number and their total size."""
    if not directory.is_dir():
        return Problem(_display(directory, root), 1, 1, "", "no such folder of manifests")
    found: list[Path] = []
    total = 0
    for folder, subfolders, names in os.walk(directory):  # followlinks=False
        subfolders.sort()
        for name in sorted(names):
            if not name.endswith((".yaml", ".yml")):  # before making a Path: 10^5 PEM files sit beside them
                continue
            path = Path(folder) / name
            refused = confinement.problem(str(_display(path, root)), path)
            if refused:
                return Problem(_display(path, root), 1, 1, "", refused)
            found.append(path)
            total += path.stat().st_size if path.is_file() else 0
            if len(found) > MAX_FILES or total > MAX_TOTAL_BYTES:
                return Problem(
                    _display(path, root),
                    1,
                    1,
                    "",
                    f"the manifests hold more than {MAX_FILES:,} files "
                    f"or {MAX_TOTAL_BYTES // (1024 * 1024)} MiB; fleet reads no more",
                )
    if not found:
        return Problem(_display(directory, root), 1, 1, "", "no *.yaml manifests found")
    return found


def _raise_if(problems: list[Problem]) -> None:
    if problems:
        raise ManifestError(problems)


def _display(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def _schema_problem(file: source.SourceFile, detail: ErrorDetails) -> Problem:
    field: FieldPath = tuple(part for part in detail["loc"] if part != "[key]")
    kind = detail["type"]
    if kind == "extra_forbidden":
        unknown = str(field[-1])
        allowed = _fields_at(ManifestFile, field[:-1])
        hint = did_you_mean(unknown, allowed)
        known = f"; known fields: {', '.join(sorted(allowed))}" if allowed and not hint else ""
        return file.problem(field, f"unknown field {unknown!r}{hint}{known}", at_key=True)
    if "[key]" in detail["loc"] and len(field) > 1 and field[-2] == "verification_certificates":
        return file.problem(field, f"{field[-1]!r} is not a valid place (ACCOUNT_ID/region)", at_key=True)
    if "[key]" in detail["loc"]:
        return file.problem(field, f"invalid name {field[-1]!r}: use lowercase letters, digits and '-'", at_key=True)
    if kind == "missing":
        return file.problem(field, "required field is missing")
    if kind == "too_long":
        return file.problem(field, f"at most {detail['ctx']['max_length']} items")
    if kind == "literal_error":
        return file.problem(field, f"must be one of {detail['ctx']['expected']}, got {detail['input']!r}")
    if kind == "string_pattern_mismatch":
        return file.problem(field, f"{detail['input']!r} is not a valid {_pattern_name(field)}")
    message = detail["msg"].removeprefix("Value error, ")
    return file.problem(field, message)


def _pattern_name(field: FieldPath) -> str:
    names = {
        "id": "12-digit account id",
        "deployer_role_arn": "IAM role ARN",
        "role_arn": "IAM role ARN",
        "account": "name",
        "env": "environment variable name",
        "kms": "KMS key ARN (arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID; not an alias)",
    }
    last = next((p for p in reversed(field) if isinstance(p, str)), "")
    if last == "regions" or (len(field) > 1 and field[-2] == "regions"):
        return "region name"
    if len(field) > 1 and field[-2] == "roles":
        return "IAM role ARN"
    if "places" in field:
        return "place (ACCOUNT_ID/region)"
    return names.get(last, "value")


def _fields_at(model: type[BaseModel], field: FieldPath) -> set[str]:
    """The field names allowed at ``field`` inside ``model`` (for "did you mean")."""
    annotation: Any = model
    for part in field:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(part, str) or part not in annotation.model_fields:
                return set()
            annotation = annotation.model_fields[part].annotation
        elif typing.get_origin(annotation) in (dict, list):
            annotation = typing.get_args(annotation)[-1]
        else:
            return set()
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return set(annotation.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    """Optional[X] -> X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation
