"""Device Defender's certificate checks, and fleet's REVOKED_KEY_REISSUED_CHECK,
on an inventory (fleet.audit.inventory).

Where Device Defender's rule needs data the manifests do not have, each
check's docstring says what fleet does instead. Two differences hold for all:

- Device Defender looks at certificates that are ACTIVE or PENDING_TRANSFER
  in AWS; the manifests declare ACTIVE, INACTIVE or REVOKED, so the checks
  look at ACTIVE ones (and PENDING_TRANSFER ones when auditing AWS).
- `fleet validate` already refuses an expired certificate, and a device
  certificate on its CA's revocation list that is not declared REVOKED, so
  on the manifests those parts of the checks never fire; `fleet audit --aws`
  finds them in AWS.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator

import badkeys
from cryptography.hazmat.primitives.asymmetric import rsa

from fleet.audit.findings import Finding
from fleet.audit.inventory import USABLE, CaRecord, CertificateFacts, DeviceRecord, Inventory
from fleet.aws.status import CertificateStatus
from fleet.crypto import pki

# the statuses Device Defender's certificate checks apply to
IN_USE = (CertificateStatus.ACTIVE, CertificateStatus.PENDING_TRANSFER)
CA_EXPIRING_DAYS = 30  # audit-chk-ca-cert-approaching-expiration.html: "within 30 days or has expired"
ROCA = "CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361"


def check(
    inventory: Inventory, now: datetime.datetime, expiring_days: int = 30, age_days: int | None = None
) -> list[Finding]:
    revoked_cas = dict(_revoked_intermediates(inventory.cas))
    return [
        *_ca_expiring(inventory.cas, now),
        *_ca_key_quality(inventory.cas),
        *_revoked_ca_still_active(inventory.cas, revoked_cas),
        *_device_checks(inventory, now, expiring_days, age_days),
        *_intermediate_revoked(inventory, revoked_cas),
        *_revoked_key_reissued(inventory),
    ]


def _ca_expiring(cas: tuple[CaRecord, ...], now: datetime.datetime) -> Iterator[Finding]:
    """CA_CERTIFICATE_EXPIRING_CHECK, medium: a CA certificate that is ACTIVE and expires within 30 days, or has
    expired. https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-ca-cert-approaching-expiration.html
    On the manifests, ACTIVE is the status of the CA's placements."""
    for ca in cas:
        if not ca.active_in:
            continue
        expiry = _expiry(ca.certificate.not_valid_after_utc, now, CA_EXPIRING_DAYS)
        if expiry:
            reason, when = expiry
            yield Finding(
                "CA_CERTIFICATE_EXPIRING_CHECK",
                f"ca:{ca.name}",
                f"CA {ca.name} {when}; register its successor and move its devices before then",
                ca.location,
                ca.active_in,
                reason,
            )


def _expiry(not_after: datetime.datetime, now: datetime.datetime, days: int) -> tuple[str, str] | None:
    if not_after <= now:
        return "CERTIFICATE_PAST_EXPIRATION", f"expired on {not_after.date().isoformat()}"
    if not_after - now <= datetime.timedelta(days=days):
        left = (not_after - now).days
        return "CERTIFICATE_APPROACHING_EXPIRATION", (
            f"expires on {not_after.date().isoformat()}, in {left} day{'s' if left != 1 else ''}"
        )
    return None


def _ca_key_quality(cas: tuple[CaRecord, ...]) -> Iterator[Finding]:
    """CA_CERTIFICATE_KEY_QUALITY_CHECK, critical: an ACTIVE CA certificate whose key fails Device Defender's key
    tests. https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-ca-cert-key-quality.html
    Of its two tests, fleet runs CVE-2017-15361 (ROCA, Infineon's RSA key generation) with badkeys, the
    researchers' detection; CVE-2008-0166 (Debian's predictable OpenSSL keys) needs Debian's list of the keys
    that OpenSSL could make, which no package here ships, so it is not tested."""
    for ca in cas:
        key = ca.certificate.public_key()
        if ca.active_in and isinstance(key, rsa.RSAPublicKey) and _roca(key.public_numbers().n, key.public_numbers().e):
            yield Finding(
                "CA_CERTIFICATE_KEY_QUALITY_CHECK",
                f"ca:{ca.name}",
                f"CA {ca.name}'s RSA key was made by Infineon's flawed generator (ROCA, CVE-2017-15361): "
                "its private key can be computed from its certificate",
                ca.location,
                ca.active_in,
                ROCA,
            )


def _roca(modulus: int, exponent: int) -> bool:
    return "roca" in badkeys.checkrsa(modulus, e=exponent, checks=["roca"])


def _revoked_intermediates(cas: tuple[CaRecord, ...]) -> Iterator[tuple[str, tuple[CaRecord, str]]]:
    """(CA name, (the CA whose revocation list revokes it, the date)) for each CA another CA's list revokes."""
    for issuer in cas:
        if issuer.crl is None:
            continue
        for ca in cas:
            if ca is issuer or not pki.signed_by(ca.certificate, issuer.certificate):
                continue
            entry = issuer.crl.get_revoked_certificate_by_serial_number(ca.certificate.serial_number)
            if entry is not None:
                yield ca.name, (issuer, entry.revocation_date_utc.date().isoformat())


def _revoked_ca_still_active(cas: tuple[CaRecord, ...], revoked: dict[str, tuple[CaRecord, str]]) -> Iterator[Finding]:
    """REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK, critical: a CA certificate its issuer's revocation list revokes,
    still ACTIVE. https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-revoked-ca-cert.html
    The issuer's list is the one its manifest entry names (`revocation_list:`)."""
    for ca in cas:
        if ca.active_in and ca.name in revoked:
            issuer, date = revoked[ca.name]
            yield Finding(
                "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
                f"ca:{ca.name}",
                f"CA {ca.name} is on CA {issuer.name}'s revocation list (revoked on {date}) but ACTIVE: "
                "set its placements INACTIVE",
                ca.location,
                ca.active_in,
                "CERTIFICATE_REVOKED_BY_ISSUER",
            )


def _device_checks(
    inventory: Inventory, now: datetime.datetime, expiring_days: int, age_days: int | None
) -> Iterator[Finding]:
    crls = {ca.name: ca for ca in inventory.cas if ca.crl is not None}
    by_issuer = {ca.certificate.subject.public_bytes(): ca for ca in crls.values()}
    revoked_serials = {name: {entry.serial_number for entry in ca.crl or ()} for name, ca in crls.items()}
    age = datetime.timedelta(days=age_days) if age_days is not None else None
    for cert in inventory.certificates:
        facts = cert.facts
        if cert.status not in IN_USE or facts is None:
            continue
        yield from _device_expiring(cert, facts, now, expiring_days)
        if facts.rsa_modulus is not None and _roca(facts.rsa_modulus, facts.rsa_exponent or 65537):
            yield Finding(
                "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK",
                cert.resource,
                f"{cert.label}'s RSA key was made by Infineon's flawed generator (ROCA, CVE-2017-15361): "
                "its private key can be computed from its certificate",
                cert.location,
                cert.places,
                ROCA,
            )
        if age is not None and now - facts.not_before >= age:
            yield Finding(
                "DEVICE_CERTIFICATE_AGE_CHECK",
                cert.resource,
                f"{cert.label} was issued on {facts.not_before.date().isoformat()}, "
                f"{(now - facts.not_before).days} days ago (threshold {age_days} days): rotate it",
                cert.location,
                cert.places,
                "CERTIFICATE_PAST_AGE_THRESHOLD",
            )
        issuer = crls.get(cert.ca or "") or by_issuer.get(facts.issuer)
        if (
            issuer is not None
            and issuer.crl is not None
            and facts.serial in revoked_serials[issuer.name]
            and facts.issuer == issuer.certificate.subject.public_bytes()
        ):
            entry = issuer.crl.get_revoked_certificate_by_serial_number(facts.serial)
            if entry is not None:
                yield _revoked_device(cert, issuer, entry.revocation_date_utc.date().isoformat())


def _device_expiring(
    cert: DeviceRecord, facts: CertificateFacts, now: datetime.datetime, days: int
) -> Iterator[Finding]:
    """DEVICE_CERTIFICATE_EXPIRING_CHECK, medium: an ACTIVE device certificate that expires within the threshold
    (30 days unless `audit.device_certificate_expiring_days` says otherwise, 30 to 3652), or has expired.
    https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-device-cert-approaching-expiration.html"""
    expiry = _expiry(facts.not_after, now, days)
    if expiry:
        reason, when = expiry
        yield Finding(
            "DEVICE_CERTIFICATE_EXPIRING_CHECK",
            cert.resource,
            f"{cert.label} {when}; provision its successor, then deactivate it",
            cert.location,
            cert.places,
            reason,
        )


def _revoked_device(cert: DeviceRecord, issuer: CaRecord, date: str) -> Finding:
    """REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK, medium: a device certificate on its CA's revocation list,
    still ACTIVE. https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-revoked-device-cert.html
    The CA's list is the one its manifest entry names; `fleet validate` refuses such a certificate in the
    manifests, so this fires on what AWS holds."""
    return Finding(
        "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
        cert.resource,
        f"{cert.label} is on CA {issuer.name}'s revocation list (revoked on {date}) but {cert.status}: revoke it",
        cert.location,
        cert.places,
        "CERTIFICATE_REVOKED_BY_ISSUER",
    )


def _intermediate_revoked(inventory: Inventory, revoked: dict[str, tuple[CaRecord, str]]) -> Iterator[Finding]:
    """INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK, critical: ACTIVE device certificates signed by
    an intermediate CA that its issuer's revocation list revokes.
    https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-active-intermediary-device-revoked-CA.html
    Device Defender reports each certificate; fleet reports each group of them (each certificate when it has no
    group), at the line that sets their status."""
    if not revoked:
        return
    subjects = {ca.certificate.subject.public_bytes(): ca.name for ca in inventory.cas if ca.name in revoked}
    affected: dict[str, list[DeviceRecord]] = defaultdict(list)
    for cert in inventory.certificates:
        if cert.status not in IN_USE:
            continue
        ca = cert.ca if cert.ca in revoked else subjects.get(cert.facts.issuer) if cert.facts and not cert.ca else None
        if ca is not None:
            affected[ca + "\0" + (f"group:{cert.group}" if cert.group else cert.resource)].append(cert)
    for key, certs in sorted(affected.items()):
        ca_name, resource = key.split("\0")
        issuer, date = revoked[ca_name]
        places = tuple(sorted({p for c in certs for p in c.places}, key=str))
        what = (
            f"{len(certs)} ACTIVE certificate{'s' if len(certs) != 1 else ''}"
            if resource.startswith("group:")
            else certs[0].label
        )
        yield Finding(
            "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK",
            resource,
            f"{what} of {resource} signed by intermediate CA {ca_name}, which CA {issuer.name}'s revocation "
            f"list revoked on {date}: revoke them and issue new ones under another CA",
            min((c.location for c in certs), key=lambda loc: (loc.file, loc.line)),
            places,
            "INTERMEDIATE_CA_REVOKED_BY_ISSUER",
        )


def _revoked_key_reissued(inventory: Inventory) -> Iterator[Finding]:
    """REVOKED_KEY_REISSUED_CHECK (fleet's own), critical: a usable certificate (ACTIVE or INACTIVE, or pending in
    AWS) whose public key is the key of a certificate the revocation ledger revoked. A revocation says the key can
    no longer be trusted; a new certificate for it is a way around the revocation. The revoked keys are those of
    the ledger's certificates whose PEM fleet has: declared in the manifests, or copied under manifests/revoked/."""
    if not inventory.revoked_keys:
        return
    for cert in inventory.certificates:
        if cert.facts is None or cert.status not in (
            *USABLE,
            CertificateStatus.PENDING_TRANSFER,
            CertificateStatus.PENDING_ACTIVATION,
        ):
            continue
        revoked = inventory.revoked_keys.get(cert.facts.key_sha256)
        if revoked is None:
            continue
        same = revoked.fingerprint == cert.fingerprint
        what = "is itself" if same else "has the public key of"
        yield Finding(
            "REVOKED_KEY_REISSUED_CHECK",
            cert.resource,
            f"{cert.label} ({cert.status}) {what} certificate {revoked.fingerprint[:16]}…, revoked on "
            f"{revoked.date} (ledger entry at {revoked.location.file}:{revoked.location.line}): a new "
            "certificate needs a new key pair",
            cert.location,
            cert.places,
            "KEY_OF_A_REVOKED_CERTIFICATE",
        )
