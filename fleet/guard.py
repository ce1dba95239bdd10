"""One look at AWS before any resource is declared: the revocation guard, and
the device-certificate statuses every group compares with its manifests.

The recorded Pulumi state can be lost, a stack can be new, a certificate can
move to another group, account or region, or lose its CA: AWS itself is the
record that survives all of these. Every account and region fleet manages is
listed once (ListCertificates, 250 a page, paced, in parallel): a certificate
the manifests want ACTIVE or INACTIVE that AWS has revoked stops the run,
naming the manifest line and the revocation date; every other status is
handed to the groups, so status drift shows in any preview without a
describe call per certificate and without a second listing at refresh.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fleet.aws.certificates import Certificates
from fleet.aws.session import SessionFactory
from fleet.manifest.desired import AccountSpec, CertificateGroupSpec, DeviceCertificate, Fleet
from fleet.revocation import refusal

ABSENT = "ABSENT"  # AWS has no such certificate in that account and region


@dataclass(frozen=True)
class Observation:
    refusals: list[str]
    statuses: dict[tuple[str, str], dict[str, str]]  # (account id, region) -> fingerprint -> status

    def drift(self, group: CertificateGroupSpec) -> dict[str, str]:
        """The group's certificates whose status in AWS is not the manifests'.
        A revoked certificate AWS does not have is no drift: it cannot be used."""
        live = self.statuses.get((group.account_id, group.region), {})
        return {
            c.fingerprint: live.get(c.fingerprint, ABSENT)
            for c in group.certificates
            if live.get(c.fingerprint, ABSENT) != c.status and not (c.status == "REVOKED" and c.fingerprint not in live)
        }


def observe(fleet: Fleet, sessions: SessionFactory) -> Observation:
    declared = {c.fingerprint: c for group in fleet.certificate_groups for c in group.certificates}
    if not declared:
        return Observation([], {})
    targets = [(account, region) for account in fleet.accounts for region in account.regions]
    with ThreadPoolExecutor(max_workers=8) as pool:  # accounts and regions in parallel; calls paced per each
        looked = list(pool.map(lambda target: _look(sessions, target[0], target[1], declared), targets))
    return Observation(
        refusals=sorted(message for _, messages in looked for message in messages),
        statuses={(a.id, r): statuses for (a, r), (statuses, _) in zip(targets, looked, strict=True)},
    )


def _look(
    sessions: SessionFactory, account: AccountSpec, region: str, declared: dict[str, DeviceCertificate]
) -> tuple[dict[str, str], list[str]]:
    where = f"account {account.name} ({account.id}), {region}"
    api = Certificates(sessions.client("iot", account.role_arn, account.id, region), where)
    statuses = {c.certificate_id: c.status for c in api.list() if c.certificate_id in declared}
    refusals = []
    for fingerprint, status in sorted(statuses.items()):
        wanted = declared[fingerprint]
        if status == "REVOKED" and wanted.status != "REVOKED":
            record = {"status": wanted.status, "file": wanted.file, "source": wanted.source}
            refusals.append(refusal(fingerprint, record, where, api.last_modified(fingerprint)))
    return statuses, refusals
