"""The desired state the manifests declare, expanded once, sorted and stable.

Everything downstream (the Pulumi program, the CLI) works from these frozen
values; resource names derive from manifest names only, so previews never
churn when files are reordered.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.keys import KeyRef


@dataclass(frozen=True)
class AccountSpec:
    name: str
    id: str
    role_arn: str
    regions: tuple[str, ...]


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

    @property
    def resource_name(self) -> str:
        return f"certs.{self.group}.{self.account}.{self.region}"


@dataclass(frozen=True)
class Fleet:
    accounts: tuple[AccountSpec, ...]
    ca_placements: tuple[CaPlacementSpec, ...]
    policies: tuple[PolicySpec, ...] = ()
    certificate_groups: tuple[CertificateGroupSpec, ...] = ()
