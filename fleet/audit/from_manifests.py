"""The audit's inventory from the manifests: what they declare, located at the
lines a reviewer changes. Nothing here calls AWS.

Device certificates are read once, by the manifests' own loading (its
``observe`` hook hands each parsed certificate over); the ledger's PEM copies
(manifests/revoked/) give the keys of revoked certificates the manifests no
longer declare.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from cryptography import x509
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from fleet.audit.findings import Location, Place
from fleet.audit.inventory import CaRecord, CertificateFacts, DeviceRecord, Inventory, PolicyRecord, RevokedKey
from fleet.aws.status import CaStatus
from fleet.crypto import pki
from fleet.files import UnreadableFile, read_bounded
from fleet.manifest.desired import Fleet

MAX_PEM_BYTES = 64 * 1024
MAX_DOCUMENT_BYTES = 64 * 1024


class FactsCollector:
    """The ``observe`` hook of fleet.manifest.load_fleet: each device certificate's facts, by fingerprint."""

    def __init__(self) -> None:
        self.facts: dict[str, CertificateFacts] = {}

    def __call__(self, fingerprint: str, cert: x509.Certificate) -> None:
        self.facts[fingerprint] = CertificateFacts.of(cert)


def inventory(fleet: Fleet, facts: dict[str, CertificateFacts], root: Path) -> Inventory:
    """``root``: the folder that finding paths are relative to (where manifest problems are shown from)."""
    names = {a.id: a.name for a in fleet.accounts}
    return Inventory(
        cas=_cas(fleet),
        certificates=_certificates(fleet, facts),
        policies=_policies(fleet, root),
        revoked_keys=_revoked_keys(fleet, facts, names, root),
    )


def location(source: str, column: int = 1) -> Location:
    """ "manifests/cas.yaml:12" -> a Location."""
    path, _, line = source.rpartition(":")
    return Location(path, int(line), column)


def _cas(fleet: Fleet) -> tuple[CaRecord, ...]:
    by_ca: dict[str, list[Any]] = defaultdict(list)
    for spec in fleet.ca_placements:
        by_ca[spec.ca].append(spec)
    records = []
    for name, specs in sorted(by_ca.items()):
        active = [s for s in specs if s.status == CaStatus.ACTIVE]
        first = (active or specs)[0]
        crl = pki.load_crl(first.crl_pem.encode()) if first.crl_pem else None
        records.append(
            CaRecord(
                name=name,
                certificate=pki.load_certificate(first.certificate_pem.encode()),
                active_in=tuple(Place(s.account, s.account_id, s.region) for s in active),
                location=location(first.source),
                crl=crl,
            )
        )
    return tuple(records)


def _certificates(fleet: Fleet, facts: dict[str, CertificateFacts]) -> tuple[DeviceRecord, ...]:
    places: dict[str, list[Place]] = defaultdict(list)
    first: dict[str, tuple[Any, Any]] = {}
    for group in fleet.certificate_groups:
        place = Place(group.account, group.account_id, group.region)
        for cert in group.certificates:
            places[cert.fingerprint].append(place)
            first.setdefault(cert.fingerprint, (group, cert))
    return tuple(
        DeviceRecord(
            fingerprint=fp,
            label=cert.file,
            status=cert.status,
            places=tuple(places[fp]),
            location=location(cert.source, cert.column),
            ca=group.ca,
            group=group.group,
            facts=facts.get(fp),
        )
        for fp, (group, cert) in first.items()
    )


def _policies(fleet: Fleet, root: Path) -> tuple[PolicyRecord, ...]:
    """One record per policy and document: the same document in every place is audited once."""
    by_document: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for spec in fleet.policies:
        by_document[(spec.name, spec.document)].append(spec)
    records = []
    for (name, document), specs in sorted(by_document.items()):
        where, lines = _document_lines(specs[0].document_path, root) if specs[0].document_path else (None, ())
        records.append(
            PolicyRecord(
                name=name,
                document=json.loads(document),
                places=tuple(Place(s.account, s.account_id, s.region) for s in specs),
                location=where or location(specs[0].source),
                statement_lines=lines,
            )
        )
    return tuple(records)


def _document_lines(path: str, root: Path) -> tuple[Location | None, tuple[int, ...]]:
    """The document file, and the line of each of its statements (JSON is YAML: ruamel gives positions)."""
    shown = _shown(Path(path), root)
    try:
        data = YAML(typ="rt").load(read_bounded(Path(path), MAX_DOCUMENT_BYTES).decode("utf-8"))
    except (OSError, UnreadableFile, UnicodeDecodeError, YAMLError, ValueError, RecursionError):
        return Location(shown, 1), ()
    if not isinstance(data, CommentedMap) or "Statement" not in data:
        return Location(shown, 1), ()
    statements = data["Statement"]
    line = data.lc.key("Statement")[0] + 1
    if isinstance(statements, CommentedSeq):
        return Location(shown, line), tuple(statements.lc.item(i)[0] + 1 for i in range(len(statements)))
    return Location(shown, line), (line,)


def _revoked_keys(
    fleet: Fleet, facts: dict[str, CertificateFacts], names: dict[str, str], root: Path
) -> dict[str, RevokedKey]:
    """The key of every certificate the ledger revoked whose PEM is at hand: declared REVOKED in the
    manifests (read while they loaded), or kept in the ledger's archive (manifests/revoked/)."""
    archive = Path(fleet.ledger.archive) if fleet.ledger.archive else None
    found: dict[str, RevokedKey] = {}
    for fingerprint, revocation in sorted(fleet.ledger.revocations.items()):
        known = facts.get(fingerprint) or (_archived(archive / f"{fingerprint}.pem") if archive else None)
        if known is not None:
            found.setdefault(known.key_sha256, RevokedKey(fingerprint, revocation.date, location(revocation.source)))
    return found


def _archived(path: Path) -> CertificateFacts | None:
    try:
        return CertificateFacts.of(pki.load_certificate(read_bounded(path, MAX_PEM_BYTES)))
    except (OSError, UnreadableFile, pki.CertificateError):
        return None  # no copy (an older ledger entry): its key is unknown


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
