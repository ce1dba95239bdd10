"""The revocation guard: before any resource is declared, every certificate the
manifests want ACTIVE or INACTIVE is looked up in every account and region
fleet manages (from the run's one survey of AWS).

The recorded Pulumi state can be lost, a stack can be new, a certificate can
move to another group, account or region, or lose its CA: AWS itself is the
record that survives all of these. One that AWS has revoked anywhere stops
the run, naming the manifest line and the revocation date; a revocation made
by hand in AWS is drift the manifests must adopt (fleet.drift).
"""

from __future__ import annotations

from fleet.manifest.desired import Fleet
from fleet.revocation import refusal
from fleet.survey import Survey

ABSENT = "ABSENT"  # AWS has no such certificate in that account and region


def refusals(fleet: Fleet, survey: Survey) -> list[str]:
    wanted = {c.fingerprint: c for g in fleet.certificate_groups for c in g.certificates if c.status != "REVOKED"}
    found = []
    for place in survey:
        for fingerprint, revoked_on in place.revoked_on.items():
            cert = wanted[fingerprint]
            record = {"status": cert.status, "file": cert.file, "source": cert.source}
            found.append(refusal(fingerprint, record, place.where, revoked_on))
    return sorted(found)
