"""Whether a certificate a device registered itself may be activated.

With auto-registration enabled on a CA, a device's first connection registers
its certificate as PENDING_ACTIVATION (just-in-time registration). AWS IoT
itself reads no revocation list, so this is the one place that decides: the
same function serves `pulumi up` (CA placements with ``auto_activation``) and
the Lambda handler for the registration event (fleet.jitr_lambda).
https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass

from fleet import pki


@dataclass(frozen=True)
class Verdict:
    activate: bool
    reason: str  # why, in words a reviewer reads
    # The check that refused: ca-inactive, status, unreadable, revoked, other-ca, is-ca, crl, validity.
    refused_for: str = ""


def decide(
    certificate_pem: str,
    status: str,
    ca_pem: str,
    ca_status: str,
    crl_pem: str | None,
    revoked: Collection[str],
    now: datetime.datetime | None = None,
) -> Verdict:
    """``ca_status``: ACTIVE only when both the manifests and AWS say so (a CA
    being deactivated, say as compromised, activates nothing). ``revoked``:
    fingerprints revoked anywhere (AWS in any managed account and region, or
    the manifests). Refuses unless every check passes."""
    if ca_status != "ACTIVE":
        return Verdict(False, f"the CA is {ca_status}", "ca-inactive")
    if status != "PENDING_ACTIVATION":
        return Verdict(False, f"its status is {status}, not PENDING_ACTIVATION", "status")
    try:
        cert = pki.load_certificate(certificate_pem.encode())
    except pki.CertificateError as error:
        return Verdict(False, f"its PEM cannot be read ({error})", "unreadable")
    if pki.certificate_id(cert) in revoked:
        return Verdict(False, "it is revoked (by the revocation ledger, in AWS or in the manifests)", "revoked")
    ca = pki.load_certificate(ca_pem.encode())
    if not pki.signed_by(cert, ca):
        return Verdict(False, "it is not signed by this CA", "other-ca")
    if pki.is_ca(cert):
        return Verdict(False, "it is a CA certificate, not a device's", "is-ca")
    if crl_pem is not None and pki.on_crl(cert, pki.load_crl(crl_pem.encode())):
        return Verdict(False, f"serial {cert.serial_number:x} is on the CA's revocation list", "crl")
    invalid = pki.validity_problem(cert, now or datetime.datetime.now(datetime.UTC))
    if invalid:
        return Verdict(False, f"it is {invalid}", "validity")
    return Verdict(True, "signed by the CA, revoked nowhere, not on its revocation list")
