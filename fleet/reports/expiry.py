"""`fleet expiry`: the CA and device certificates of the manifests that expire
within a number of days, or have expired, per account and region. From the
manifests alone: the dates are in the certificates.

Device Defender's first checks are the same (CA_CERTIFICATE_EXPIRING_CHECK and
DEVICE_CERTIFICATE_EXPIRING_CHECK, 30 days: fleet.audit); this is the list to
act on, place by place. REVOKED certificates are left out: nothing renews them.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Console

from fleet.aws.status import CertificateStatus
from fleet.crypto import pki
from fleet.manifest.desired import Fleet
from fleet.reports.console_table import print_table

DAYS = 30  # Device Defender's threshold for both checks


@dataclass(frozen=True)
class Expiring:
    kind: str  # "CA" | "device"
    name: str  # the CA's name, or the device certificate's PEM file (relative to the manifests)
    account: str
    account_id: str
    region: str
    status: str
    not_after: datetime.datetime
    group: str | None = None  # a device certificate's group
    ca: str | None = None  # a device certificate's CA

    def days_left(self, now: datetime.datetime) -> int:
        """Whole days until it expires (negative: days since it expired)."""
        return (self.not_after - now) // datetime.timedelta(days=1)

    def as_json(self, now: datetime.datetime) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "account": self.account,
            "account_id": self.account_id,
            "region": self.region,
            "status": self.status,
            "group": self.group,
            "ca": self.ca,
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(now),
            "expired": self.not_after <= now,
        }


def horizon(now: datetime.datetime, days: int) -> datetime.datetime:
    return now + datetime.timedelta(days=days)


def find(
    fleet: Fleet, device_not_after: Mapping[str, datetime.datetime], now: datetime.datetime, days: int = DAYS
) -> list[Expiring]:
    """``device_not_after``: fingerprint -> when it expires, for (at least) every device certificate
    that expires before the horizon."""
    until = horizon(now, days)
    found = []
    for ca in fleet.ca_placements:
        not_after = pki.load_certificate(ca.certificate_pem.encode()).not_valid_after_utc
        if not_after <= until:
            found.append(Expiring("CA", ca.ca, ca.account, ca.account_id, ca.region, ca.status, not_after))
    for group in fleet.certificate_groups:
        for certificate in group.certificates:
            device_expires = device_not_after.get(certificate.fingerprint)
            if certificate.status == CertificateStatus.REVOKED or device_expires is None or device_expires > until:
                continue
            found.append(
                Expiring(
                    "device",
                    certificate.file,
                    group.account,
                    group.account_id,
                    group.region,
                    certificate.status,
                    device_expires,
                    group.group,
                    group.ca,
                )
            )
    return sorted(found, key=lambda e: (e.account, e.region, e.not_after, e.kind, e.name))


def print_report(console: Console, found: list[Expiring], now: datetime.datetime, days: int) -> None:
    print_table(
        console,
        f"{len(found)} certificate(s) expired or expiring within {days} days",
        ("account", "region", "certificate", "status", "expires", "days left"),
        (_row(item, now) for item in found),
        empty=f"No CA or device certificate expires within {days} days.",
    )


def _row(item: Expiring, now: datetime.datetime) -> tuple[str, ...]:
    what = f"CA {item.name}" if item.kind == "CA" else f"{item.name} (group {item.group})"
    left = item.days_left(now)
    return (
        item.account,
        item.region,
        what,
        item.status,
        item.not_after.strftime("%Y-%m-%d %H:%M UTC"),
        "expired" if item.not_after <= now else str(left),
    )


def as_json(found: list[Expiring], now: datetime.datetime) -> str:
    return json.dumps([item.as_json(now) for item in found], indent=2) + "\n"
