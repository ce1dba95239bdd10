"""Whether a certificate a device registered itself may be activated.

With auto-registration enabled on a CA, a device's first connection registers
its certificate as PENDING_ACTIVATION (just-in-time registration). AWS IoT
itself reads no revocation list, so this is the one place that decides: the
same rules (``judge``) serve `pulumi up` (CA placements with
``auto_activation``, through ``decide``) and the Lambda handler for the
registration event (fleet.jitr.handler), which reads the certificate without
the cryptography package (fleet.jitr.presented: Lambda's Python runtime has
no compiled cryptography of the deployer's Python version).
https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html
"""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass

from fleet.aws.status import CaStatus, CertificateStatus
from fleet.crypto import validity

PENDING = CertificateStatus.PENDING_ACTIVATION


@dataclass(frozen=True)
class Verdict:
    activate: bool
    reason: str  # why, in words a reviewer reads
    # The check that refused: ca-inactive, status, unreadable, revoked, other-ca, is-ca, crl, validity.
    refused_for: str = ""


@dataclass(frozen=True)
class Presented:
    """What the decision reads of a certificate."""

    certificate_id: str  # SHA-256 of its DER encoding: AWS's certificate id
    serial: int
    is_ca: bool
    not_before: datetime.datetime  # UTC
    not_after: datetime.datetime


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
    from fleet.crypto import pki  # here, not above: the Lambda imports this module without cryptography

    try:
        cert = pki.load_certificate(certificate_pem.encode())
    except pki.CertificateError as error:
        return judge(f"its PEM cannot be read ({error})", status, ca_status, False, None, revoked, now)
    presented = Presented(
        pki.certificate_id(cert),
        cert.serial_number,
        pki.is_ca(cert),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
    )
    signed = pki.signed_by(cert, pki.load_certificate(ca_pem.encode()))
    listed = None if crl_pem is None else crl_serials(crl_pem)
    return judge(presented, status, ca_status, signed, listed, revoked, now)


def crl_serials(crl_pem: str) -> frozenset[int]:
    """The serial numbers a CA's revocation list names (its signature was checked as the manifests loaded)."""
    from fleet.crypto import pki

    return frozenset(entry.serial_number for entry in pki.load_crl(crl_pem.encode()))


def judge(
    presented: Presented | str,
    status: str,
    ca_status: str,
    signed_by_ca: bool,
    crl: Collection[int] | None,
    revoked: Collection[str],
    now: datetime.datetime | None = None,
) -> Verdict:
    """The rules, in order. ``presented``: the certificate, or why it cannot be
    read. ``crl``: the serials on the CA's revocation list (None: it has none)."""
    if ca_status != CaStatus.ACTIVE:
        return Verdict(False, f"the CA is {ca_status}", "ca-inactive")
    if status != PENDING:
        return Verdict(False, f"its status is {status}, not {PENDING}", "status")
    if isinstance(presented, str):
        return Verdict(False, presented, "unreadable")
    if presented.certificate_id in revoked:
        return Verdict(False, "it is revoked (by the revocation ledger, in AWS or in the manifests)", "revoked")
    if not signed_by_ca:
        return Verdict(False, "it is not signed by this CA", "other-ca")
    if presented.is_ca:
        return Verdict(False, "it is a CA certificate, not a device's", "is-ca")
    if crl is not None and presented.serial in crl:
        return Verdict(False, f"serial {presented.serial:x} is on the CA's revocation list", "crl")
    invalid = validity.problem(presented.not_before, presented.not_after, now or datetime.datetime.now(datetime.UTC))
    if invalid:
        return Verdict(False, f"it is {invalid}", "validity")
    return Verdict(True, "signed by the CA, revoked nowhere, not on its revocation list")
