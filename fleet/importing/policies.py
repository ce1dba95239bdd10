"""How each policy AWS has is declared: its default document (one for every
place, templated where places differ by account id and region), kept
versions, and what cannot be declared.

A policy the manifests declare already is compared with AWS in each place;
a difference is a conflict, left as the manifests say. A policy that cannot
be declared is left out with its attachments: a name fleet's manifests
cannot hold, a document fleet validate would refuse, documents that really
differ between places, or attachments to principals other than
certificates where certificates hold it too (fleet would detach those).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from fleet.aws.policies import compact
from fleet.importing.estate import PlaceEstate, PolicyFound
from fleet.importing.existing import Existing
from fleet.importing.notes import CONFLICT, KEPT, LEFT_OUT, Note
from fleet.importing.templating import Where, template
from fleet.manifest import policy_documents
from fleet.manifest.desired import AccountSpec
from fleet.manifest.device_rules import MAX_POLICY_CHARACTERS, substitute

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")  # fleet.manifest.model.Name
CERTIFICATE = re.compile(r"^arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:cert/[0-9a-f]{64}$")


@dataclass(frozen=True)
class PolicyImport:
    name: str
    document: str  # the document file's text
    templated: bool
    keep_other_versions: bool


@dataclass(frozen=True)
class Decided:
    imported: tuple[PolicyImport, ...]
    fleet_policies: frozenset[str]  # the policies the manifests will declare: their attachments are declared too
    notes: tuple[Note, ...]


def decide(estates: Iterable[PlaceEstate], existing: Existing) -> Decided:
    found: dict[str, dict[Where, PolicyFound]] = defaultdict(dict)
    for estate in estates:
        place = estate.place
        for name, policy in estate.policies.items():
            found[name][Where(place.account_id, place.region, place.account)] = policy
    imported, notes = [], []
    for name, places in sorted(found.items()):
        if name in existing.policies:
            notes.extend(_compare(name, places, existing))
            continue
        made, said = _declare(name, places)
        notes.extend(said)
        if made is not None:
            imported.append(made)
    names = frozenset(existing.policies) | {p.name for p in imported}
    return Decided(tuple(imported), names, tuple(notes))


def _declare(name: str, places: dict[Where, PolicyFound]) -> tuple[PolicyImport | None, list[Note]]:
    subject = f"policy {name}"
    if not NAME.fullmatch(name):
        return None, [
            Note(
                LEFT_OUT,
                subject,
                "fleet's manifests name policies with lowercase letters, digits and "
                "'-' (the name is AWS's): left out, with its attachments",
            )
        ]
    for where, policy in sorted(places.items()):
        problem = _document_problem(policy.document)
        if problem:
            return None, [
                Note(
                    LEFT_OUT,
                    subject,
                    f"fleet validate would refuse its document ({problem}): left out, with its attachments",
                    where.label,
                )
            ]
        others = sorted(t for t in policy.targets if not CERTIFICATE.match(t))
        if others and len(others) < len(policy.targets):
            return None, [
                Note(
                    LEFT_OUT,
                    subject,
                    f"attached to {', '.join(others)} as well as to certificates, and "
                    "fleet would detach what is not a certificate: left out, with its "
                    "attachments",
                    where.label,
                )
            ]
    document = template({where: policy.document for where, policy in places.items()})
    if document.text is None:
        return None, [
            Note(
                LEFT_OUT,
                subject,
                f"{document.why}: fleet declares one document per policy name; left "
                "out, with its attachments (make them equal, or rename one in AWS, "
                "and import again)",
            )
        ]
    kept = [(where, policy.other_versions) for where, policy in sorted(places.items()) if policy.other_versions]
    notes = [
        Note(
            KEPT,
            subject,
            f"version(s) {', '.join(versions)} besides the default: kept (other_versions: "
            "keep); remove that line to let `pulumi up` delete them",
            where.label,
        )
        for where, versions in kept
    ]
    return PolicyImport(name, document.text, document.templated, bool(kept)), notes


def _document_problem(text: str) -> str | None:
    document, unreadable = policy_documents.parse(text)
    problem = unreadable or policy_documents.shape_problem(document)
    if problem:
        return problem
    size = len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"), sort_keys=True)))
    return f"{size} characters without whitespace" if size > MAX_POLICY_CHARACTERS else None


def _compare(name: str, places: dict[Where, PolicyFound], existing: Existing) -> list[Note]:
    declared = existing.policies[name]
    notes = []
    for where, policy in sorted(places.items()):
        account = AccountSpec(where.account, where.account_id, "", (where.region,))
        try:
            differs = compact(substitute(declared.document, account, where.region)) != compact(policy.document)
        except ValueError:
            differs = True
        if differs:
            notes.append(
                Note(
                    CONFLICT,
                    f"policy {name}",
                    f"AWS's default document differs from the one declared at {declared.file.name}",
                    where.label,
                )
            )
        if policy.other_versions and not declared.keep_other_versions:
            notes.append(
                Note(
                    CONFLICT,
                    f"policy {name}",
                    f"version(s) {', '.join(policy.other_versions)} besides the "
                    "default, which the manifests do not keep",
                    where.label,
                )
            )
    return notes
