"""The preview-time guard for revoked certificates, across the whole fleet.

The recorded Pulumi state can be lost, a stack can be new, a certificate can
move to another group, account or region, or lose its CA: AWS itself is the
record that survives all of these. Before any resource is declared, every
certificate the manifests want ACTIVE or INACTIVE is looked up in every
account and region fleet manages (ListCertificates, 250 a page); one revoked
anywhere stops the run, naming the manifest line and the revocation date.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from fleet.aws.certificates import Certificates
from fleet.aws.session import SessionFactory
from fleet.manifest.desired import AccountSpec, Fleet
from fleet.revocation import refusal


def reactivations(fleet: Fleet, sessions: SessionFactory) -> list[str]:
    """A refusal for each declared non-revoked certificate that AWS has revoked."""
    wanted = {
        c.fingerprint: {"status": c.status, "file": c.file, "source": c.source}
        for group in fleet.certificate_groups for c in group.certificates if c.status != "REVOKED"
    }
    if not wanted:
        return []
    targets = [(account, region) for account in fleet.accounts for region in account.regions]
    with ThreadPoolExecutor(max_workers=8) as pool:  # accounts and regions in parallel; calls paced per each
        found = pool.map(lambda target: _revoked_in(sessions, target[0], target[1], wanted), targets)
        return sorted(message for messages in found for message in messages)


def _revoked_in(sessions: SessionFactory, account: AccountSpec, region: str, wanted: dict[str, dict[str, str]]
                ) -> Iterable[str]:
    where = f"account {account.name} ({account.id}), {region}"
    api = Certificates(sessions.client("iot", account.role_arn, account.id, region), where)
    revoked = [c.certificate_id for c in api.list() if c.status == "REVOKED" and c.certificate_id in wanted]
    return [refusal(fp, wanted[fp], where, api.last_modified(fp)) for fp in revoked]
