"""Stage 3 for the revocation ledger: its entries, and the manifests against it.

- An entry is dated no later than today, lists its fingerprints one per line
  in a literal block (the ledger's history is read line by line:
  fleet.manifest.ledger_history; a block reads fast at 10^5 lines), and every
  account it names can be reached (the manifests' accounts, or its roles).
- A certificate the manifests mark REVOKED has its entry, in each account and
  region where it is revoked (`fleet record-revocations` writes it).
- A certificate the ledger, or the ledger's history, revoked is declared
  ACTIVE or INACTIVE nowhere, under no name, with or without a CA.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from fleet.aws.status import CertificateStatus
from fleet.manifest.desired import AccountSpec, CertificateGroupSpec, DeviceCertificate, LedgerSpec, Revocation
from fleet.manifest.model import FINGERPRINT, ManifestFile
from fleet.manifest.problems import Problem, field_name
from fleet.manifest.source import SourceFile

Document = tuple[SourceFile, Path, ManifestFile]
RECORD = "`fleet record-revocations` writes it"


# The one wording of the rule fleet never bends, shared by every place that enforces it: this check when the
# manifests load, the program's guard (fleet.revocation.guard) and the certificate provider (at diff and before
# every write).
def refusal(fingerprint: str, wanted: Mapping[str, str], revoked_where: str, revoked_on: str | None) -> str:
    when = f"on {revoked_on}" if revoked_on else "at an unknown date"
    return (
        f"certificate {fingerprint} ({wanted.get('file', '?')}) is declared {wanted['status']} at "
        f"{wanted.get('source', '?')}, but it was revoked {when} in {revoked_where}; a revoked certificate is never "
        f"reactivated. Adopt the revocation: set it REVOKED in the manifests, with its revocation (reason, date)."
    )


def check(
    documents: list[Document],
    accounts: Mapping[str, AccountSpec],
    groups: Iterable[CertificateGroupSpec],
    manifests_root: Path,
    now: datetime.datetime,
    history: frozenset[str],
    problems: list[Problem],
    unrecorded_ok: bool = False,
) -> LedgerSpec:
    roles: dict[str, str] = {}
    for file, _folder, doc in documents:
        for account_id, role in doc.revocations.roles.items() if doc.revocations else ():
            if roles.get(account_id, role) != role:
                problems.append(
                    file.problem(
                        ("revocations", "roles", account_id),
                        f"another ledger file gives account {account_id} the role {roles[account_id]}",
                    )
                )
            roles.setdefault(account_id, role)
    reachable = {a.id for a in accounts.values()} | set(roles)
    revocations: dict[str, Revocation] = {}
    for file, _folder, doc in documents:
        for index, entry in enumerate(doc.revocations.entries if doc.revocations else ()):
            where = ("revocations", "entries", index)
            if entry.date > now.date():
                problems.append(
                    file.problem(
                        (*where, "date"), f"{entry.date} is in the future: a revocation is recorded once it happened"
                    )
                )
            for place_index, place in enumerate(entry.places):
                if place.split("/")[0] not in reachable:
                    problems.append(
                        file.problem(
                            (*where, "places", place_index),
                            f"account {place.split('/')[0]} is neither in the manifests' "
                            "accounts nor in revocations.roles: fleet could not keep the "
                            "record there; add its role under revocations.roles",
                        )
                    )
            block_line, block_column = file.position((*where, "certificates"))
            if not entry.certificates.strip():
                problems.append(
                    file.problem(
                        (*where, "certificates"), "no fingerprint: a literal block (|) of fingerprints, one per line"
                    )
                )
            for number, line in enumerate(entry.certificates.splitlines(), start=1):
                if not FINGERPRINT.fullmatch(line.strip()):
                    problems.append(
                        Problem(
                            file.path,
                            block_line + number,
                            block_column,
                            field_name((*where, "certificates")),
                            f"{line.strip()[:80]!r} is not a fingerprint (64 lowercase hex characters, one per line)",
                        )
                    )
            places = frozenset((p.split("/")[0], p.split("/")[1]) for p in entry.places)
            source = f"{file.path}:{file.position(where)[0]}"
            for fp in entry.fingerprints:
                known = revocations.get(fp)
                if known is None or entry.date.isoformat() < known.date:
                    revocations[fp] = Revocation(
                        fp,
                        entry.date.isoformat(),
                        entry.reason,
                        entry.ca,
                        places | (known.places if known else frozenset()),
                        source,
                    )
                else:
                    revocations[fp] = replace(known, places=known.places | places)

    unrecorded: dict[tuple[str, str], tuple[DeviceCertificate, list[str]]] = {}
    for group in groups:
        here = (group.account_id, group.region)
        for cert in group.certificates:
            known = revocations.get(cert.fingerprint)
            if cert.status == CertificateStatus.REVOKED:
                if (known is None or here not in known.places) and not unrecorded_ok:
                    unrecorded.setdefault((cert.source, cert.fingerprint), (cert, []))[1].append(
                        f"account {group.account} ({group.account_id}), {group.region}"
                    )
            elif known is not None:
                revoked_in = " and ".join(_place(accounts, p) for p in sorted(known.places))
                problems.append(
                    _at(
                        cert,
                        refusal(
                            cert.fingerprint,
                            _wanted(cert),
                            f"{revoked_in} (the revocation ledger, {known.source})",
                            known.date,
                        ),
                    )
                )
            elif cert.fingerprint in history:
                problems.append(
                    _at(
                        cert,
                        refusal(
                            cert.fingerprint,
                            _wanted(cert),
                            "the revocation ledger's history (its entry was removed since)",
                            None,
                        ),
                    )
                )
    for cert, missing in unrecorded.values():
        problems.append(
            _at(
                cert,
                f"{cert.file} ({cert.fingerprint[:12]}…) is REVOKED here, but the revocation "
                f"ledger does not record it in {' and '.join(sorted(missing))}: {RECORD}",
            )
        )
    return LedgerSpec(
        revocations=dict(sorted(revocations.items())),
        roles=dict(sorted(roles.items())),
        archive=str(manifests_root / "revoked"),
        history=history,
    )


def _wanted(cert: DeviceCertificate) -> dict[str, str]:
    return {"status": cert.status, "file": cert.file, "source": cert.source}


def _place(accounts: Mapping[str, AccountSpec], place: tuple[str, str]) -> str:
    name = next((a.name for a in accounts.values() if a.id == place[0]), None)
    return f"account {name} ({place[0]}), {place[1]}" if name else f"account {place[0]}, {place[1]}"


def _at(cert: DeviceCertificate, message: str) -> Problem:
    path, _, line = cert.source.rpartition(":")
    return Problem(Path(path), int(line), cert.column, cert.field, message)
