"""`fleet audit`: AWS IoT Device Defender's certificate and policy audit
checks, run on the manifests before anything is applied (or, with --aws, on
what AWS holds), each finding located at the file and line to fix.

- fleet.audit.findings: the checks (names and severities) and the finding model;
- fleet.audit.certificates and fleet.audit.policies: the two families of checks;
- fleet.audit.suppressions: the manifests' accepted findings;
- fleet.audit.from_manifests and fleet.audit.aws_state: what the checks look at;
- fleet.audit.sarif: the findings as SARIF 2.1.0 for code scanning.

Only fleet.audit.aws_state reads AWS, through fleet.aws; nothing here writes.
"""

from __future__ import annotations

import datetime

from fleet.audit import certificates, policies, suppressions
from fleet.audit.findings import Finding, ordered
from fleet.audit.inventory import Inventory
from fleet.manifest.desired import AuditSpec


def run(inventory: Inventory, settings: AuditSpec, now: datetime.datetime, *, aws: bool = False) -> list[Finding]:
    """Every finding, most severe first; those a valid suppression covers are marked, not dropped. ``aws``:
    the inventory is what AWS holds (a suppression may then match nothing there)."""
    found = certificates.check(
        inventory, now, settings.device_certificate_expiring_days, settings.device_certificate_age_days
    )
    found += policies.check(inventory.policies)
    return ordered(suppressions.apply(found, settings.suppressions, now.date(), unmatched=not aws))


__all__ = ["Finding", "run"]
