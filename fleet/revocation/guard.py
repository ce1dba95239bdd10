"""The revocation guard: before any resource is declared, every certificate the
manifests want ACTIVE or INACTIVE is checked against every memory of a
revocation fleet has:

- the revocation ledger and its git history (checked when the manifests load:
  fleet.manifest.ledger_rules, so `fleet validate` refuses the same);
- AWS's REVOKED records, in every account and region the manifests, the
  ledger or any stack's recorded state point at (the run's survey);
- the recorded state of every stack of this project (fleet.revocation.state_records).

One that any of them holds as revoked stops the run, naming the certificate,
its manifest line and when it was revoked (the ledger's date when the ledger
has it).
"""

from __future__ import annotations

from collections.abc import Iterable

from fleet.aws.status import CertificateStatus
from fleet.manifest.desired import DeviceCertificate, Fleet
from fleet.manifest.ledger_rules import refusal
from fleet.model.survey import Survey
from fleet.revocation.state_records import Recorded


def refusals(fleet: Fleet, survey: Survey, recorded: Iterable[Recorded] = ()) -> list[str]:
    wanted: dict[str, DeviceCertificate] = {
        c.fingerprint: c
        for g in fleet.certificate_groups
        for c in g.certificates
        if c.status != CertificateStatus.REVOKED
    }
    found = []
    for place in survey:
        for fingerprint, revoked_on in place.revoked_on.items():
            cert = wanted[fingerprint]
            found.append(refusal(fingerprint, _record(cert), place.where, _date(fleet, fingerprint, revoked_on)))
    for stack in recorded:
        for (account_id, region), revoked in sorted(stack.revoked.items()):
            for fingerprint in sorted(revoked & set(wanted)):
                where = f"the recorded state of stack {stack.stack} (account {account_id}, {region})"
                found.append(refusal(fingerprint, _record(wanted[fingerprint]), where, _date(fleet, fingerprint, None)))
    return sorted(set(found))


def _record(cert: DeviceCertificate) -> dict[str, str]:
    return {"status": cert.status, "file": cert.file, "source": cert.source}


def _date(fleet: Fleet, fingerprint: str, aws_date: str | None) -> str | None:
    known = fleet.ledger.revocations.get(fingerprint)
    return known.date if known is not None else aws_date
