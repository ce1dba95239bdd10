"""What the audit reports: the checks it runs and the findings they make.

Check names and severities are AWS IoT Device Defender's where the check is
the same (the page of each check is cited beside it); REVOKED_KEY_REISSUED_CHECK
is fleet's own. Every finding is located: the resource, where in AWS it
matters (account and region), and the file and line a reviewer fixes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

DEVGUIDE = "https://docs.aws.amazon.com/iot-device-defender/latest/devguide/"


class Severity(enum.IntEnum):
    """Device Defender's four severities, ordered."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Check:
    name: str
    severity: Severity
    title: str
    why: str  # why it matters, as Device Defender (or fleet) says it
    url: str  # the page that gives the rule and the severity


CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check(
            "CA_CERTIFICATE_EXPIRING_CHECK",
            Severity.MEDIUM,
            "CA certificate expiring",
            "An expired CA certificate should not be used to sign new device certificates.",
            DEVGUIDE + "audit-chk-ca-cert-approaching-expiration.html",
        ),
        Check(
            "DEVICE_CERTIFICATE_EXPIRING_CHECK",
            Severity.MEDIUM,
            "Device certificate expiring",
            "A device certificate should not be used after it expires.",
            DEVGUIDE + "audit-chk-device-cert-approaching-expiration.html",
        ),
        Check(
            "CA_CERTIFICATE_KEY_QUALITY_CHECK",
            Severity.CRITICAL,
            "CA certificate key quality",
            "Newly added devices signed using this CA certificate might pose a security threat.",
            DEVGUIDE + "audit-chk-ca-cert-key-quality.html",
        ),
        Check(
            "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK",
            Severity.CRITICAL,
            "Device certificate key quality",
            "When a device uses a vulnerable certificate, attackers can more easily compromise that device.",
            DEVGUIDE + "audit-chk-device-cert-key-quality.html",
        ),
        Check(
            "DEVICE_CERTIFICATE_AGE_CHECK",
            Severity.LOW,
            "Device certificate age",
            "Rotating certificates on a period reduces the risk of a compromised certificate staying in use.",
            DEVGUIDE + "device-certificate-age-check.html",
        ),
        Check(
            "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
            Severity.CRITICAL,
            "Revoked CA certificate still active",
            "A revoked CA certificate should no longer be used to sign device certificates; it might have been "
            "revoked because it was compromised.",
            DEVGUIDE + "audit-chk-revoked-ca-cert.html",
        ),
        Check(
            "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK",
            Severity.MEDIUM,
            "Revoked device certificate still active",
            "A device certificate is usually revoked because it has been compromised.",
            DEVGUIDE + "audit-chk-revoked-device-cert.html",
        ),
        Check(
            "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK",
            Severity.CRITICAL,
            "Intermediate CA revoked for active device certificates",
            "A revoked intermediate CA should no longer be used to sign device certificates; devices whose "
            "certificates it signed pose a security threat.",
            DEVGUIDE + "audit-chk-active-intermediary-device-revoked-CA.html",
        ),
        Check(
            "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
            Severity.CRITICAL,
            "AWS IoT policy overly permissive",
            "A certificate with an overly permissive policy can, if compromised, impact the security of the whole "
            "account: read or modify every device's shadows and jobs, or connect as any device.",
            DEVGUIDE + "audit-chk-iot-policy-permissive.html",
        ),
        Check(
            "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
            Severity.MEDIUM,
            "AWS IoT policy potentially misconfigured",
            "A policy that means to deny something may allow it: AWS IoT policies read MQTT wildcards literally.",
            DEVGUIDE + "audit-chk-iot-misconfigured-policies.html",
        ),
        # fleet's own: a revocation says the key leaked; a new certificate for the same key brings the leak back.
        Check(
            "REVOKED_KEY_REISSUED_CHECK",
            Severity.CRITICAL,
            "Certificate re-issued for a revoked key",
            "A revocation says the certificate's private key can no longer be trusted; a new certificate for the same "
            "key gives whoever holds that key a working identity again.",
            "https://docs.aws.amazon.com/iot/latest/developerguide/revoke-ca-cert.html",
        ),
        # fleet's own: a suppression (fleet.audit.suppressions) without a reason or an expiry, or expired.
        Check(
            "AUDIT_SUPPRESSION_CHECK",
            Severity.LOW,
            "Audit suppression that silences nothing",
            "A suppression must say why a finding is accepted and until when; one that does not, or has expired, "
            "silences nothing, and the finding it meant is reported again.",
            DEVGUIDE + "audit-finding-suppressions.html",
        ),
    )
}


@dataclass(frozen=True)
class Place:
    """An account and region where a finding matters."""

    account: str  # the manifests' name for it ("" when they have none)
    account_id: str
    region: str

    def __str__(self) -> str:
        return (
            f"{self.account} ({self.account_id}), {self.region}"
            if self.account
            else f"{self.account_id}, {self.region}"
        )


@dataclass(frozen=True)
class Location:
    """Where a reviewer fixes it: a file relative to the repository, 1-based line and column."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Suppressed:
    """The suppression that silences a finding: why, and until when."""

    reason: str
    expires: str  # ISO date
    location: Location


@dataclass(frozen=True)
class Finding:
    check: str
    resource: str  # "ca:NAME", "certificate:FILE", "group:NAME", "policy:NAME" (what a suppression names)
    message: str
    location: Location
    places: tuple[Place, ...] = ()
    reason_code: str = ""  # Device Defender's reason code, where it has one
    suppressed: Suppressed | None = field(default=None, compare=False)

    @property
    def severity(self) -> Severity:
        return CHECKS[self.check].severity

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes two findings the same one (a change "introduces" a finding whose key is new)."""
        return (self.check, self.resource, self.reason_code)

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.label,
            "reason_code": self.reason_code or None,
            "resource": self.resource,
            "message": self.message,
            "places": [
                {"account": p.account or None, "account_id": p.account_id, "region": p.region} for p in self.places
            ],
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "suppressed": None
            if self.suppressed is None
            else {
                "reason": self.suppressed.reason,
                "expires": self.suppressed.expires,
                "file": self.suppressed.location.file,
                "line": self.suppressed.location.line,
            },
        }

    def __str__(self) -> str:
        where = f" in {'; '.join(str(p) for p in self.places)}" if self.places else ""
        return f"{self.location}: {self.severity.label} {self.check}: {self.resource}{where}: {self.message}"


def ordered(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by file and line: the same findings always print the same way."""
    return sorted(findings, key=lambda f: (-f.severity, f.location.file, f.location.line, f.check, f.resource))
