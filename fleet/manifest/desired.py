"""The desired state the manifests declare, expanded once, sorted and stable.

Everything downstream (the Pulumi program, the CLI) works from these frozen
values; resource names derive from manifest names only, so previews never
churn when files are reordered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fleet.crypto.keys import KeyRef
from fleet.manifest.problems import Problem


@dataclass(frozen=True)
class AccountSpec:
    name: str
    id: str
    role_arn: str
    regions: tuple[str, ...]
    source: str = ""  # "manifests/accounts.yaml:5" of its entry


@dataclass(frozen=True)
class CaPlacementSpec:
    """One CA certificate registered in one account and region."""

    ca: str
    account: str
    account_id: str
    role_arn: str
    region: str
    certificate_pem: str
    certificate_id: str
    mode: str
    status: str
    auto_registration: str
    registration_config: tuple[tuple[str, str], ...]  # sorted (key, value) pairs; empty = none
    private_key: KeyRef | None
    source: str  # "manifests/cas.yaml:12" of the placement
    # Just-in-time registrations `pulumi up` activates (None: leave them pending),
    # with the policies to attach; the CA's revocation list, checked first.
    activation_policies: tuple[str, ...] | None = None
    crl_pem: str | None = None
    # DEFAULT mode without a key: the verification certificate signed offline for this account and region
    # (fleet.providers.custody checks its code and dates before anything is written), and its file.
    verification_certificate: str | None = None
    verification_file: str = ""
    # Where the manifest says how the verification certificate is signed ("manifests/cas.yaml:5:18:
    # cas.root.private_key"), for messages.
    custody_at: str = ""

    @property
    def resource_name(self) -> str:
        return f"{self.ca}.{self.account}.{self.region}"


@dataclass(frozen=True)
class PolicySpec:
    """One IoT policy in one account and region, its document substituted."""

    name: str
    account: str
    account_id: str
    role_arn: str
    region: str
    document: str  # compact JSON
    source: str
    document_path: str = ""  # the document's file (absolute), as the manifest names it
    keep_other_versions: bool = False  # other_versions: keep

    @property
    def resource_name(self) -> str:
        return f"policy.{self.name}.{self.account}.{self.region}"


@dataclass(frozen=True)
class DeviceCertificate:
    fingerprint: str
    file: str  # relative to the manifests folder
    status: str
    revocation_date: str | None  # ISO date, when REVOKED
    revocation_reason: str | None
    source: str  # "file:line" that sets this certificate's status
    thing: str | None = None  # the thing it is attached to
    field: str = ""  # the manifest field that sets its status, as problems name it
    column: int = 1  # of that field, on the source's line


@dataclass(frozen=True)
class CertificateGroupSpec:
    """One group of device certificates in one account and region: one Pulumi resource."""

    group: str
    ca: str | None
    ca_certificate_pem: str | None
    ca_id: str | None
    account: str
    account_id: str
    role_arn: str
    region: str
    policies: tuple[str, ...]
    certificates: tuple[DeviceCertificate, ...]  # sorted by fingerprint
    manifests_root: str
    source: str
    path: str = ""  # the group's PEM file or folder (absolute)
    things: str = "none"  # none | common-name


@dataclass(frozen=True)
class Revocation:
    """What the revocation ledger says of one certificate."""

    fingerprint: str
    date: str  # ISO date of its first revocation: the date every refusal shows
    reason: str
    ca: str | None
    places: frozenset[tuple[str, str]]  # (account id, region): everywhere the ledger revoked it
    source: str  # "manifests/revocations.yaml:12" of the entry that first revoked it


@dataclass(frozen=True)
class LedgerSpec:
    revocations: Mapping[str, Revocation] = field(default_factory=dict)  # by fingerprint
    roles: Mapping[str, str] = field(default_factory=dict)  # account id -> role ARN
    archive: str = ""  # folder of PEM copies (<fingerprint>.pem) that restore AWS's records
    history: frozenset[str] = frozenset()  # every fingerprint the ledger's git history ever held

    def revoked(self, fingerprint: str) -> bool:
        return fingerprint in self.revocations or fingerprint in self.history


@dataclass(frozen=True)
class SuppressionSpec:
    """One `audit.suppressions` entry, where it was written."""

    check: str
    resource: str
    reason: str
    expires: str | None  # ISO date
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class AuditSpec:
    """The manifests' `audit` sections, merged."""

    suppressions: tuple[SuppressionSpec, ...] = ()
    device_certificate_expiring_days: int = 30
    device_certificate_age_days: int | None = None  # off unless set


@dataclass(frozen=True)
class Fleet:
    accounts: tuple[AccountSpec, ...]
    ca_placements: tuple[CaPlacementSpec, ...]
    policies: tuple[PolicySpec, ...] = ()
    certificate_groups: tuple[CertificateGroupSpec, ...] = ()
    ledger: LedgerSpec = LedgerSpec()
    audit: AuditSpec = AuditSpec()
    warnings: tuple[Problem, ...] = ()  # said by `fleet validate` and the program, refused by neither
