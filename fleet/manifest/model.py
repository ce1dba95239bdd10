"""The manifest schema (v1), as pydantic models.

One file may hold any of the top-level sections; fleet merges all files under
the manifests folder. Unknown fields are errors. The JSON Schema in
schema/manifest.schema.json is generated from ``ManifestFile``.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from fleet.aws.status import CertificateStatus

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
AccountId = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")]
# AWS IoT's certificate id: SHA-256 of the certificate's DER encoding, lowercase hex.
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# An AWS KMS key by its key ARN (not an alias: IAM grants use on keys, and `fleet iam` names them).
KmsKeyArn = Annotated[
    str, StringConstraints(pattern=r"^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$")
]
# Where a revocation holds: ACCOUNT_ID/REGION.
PlaceRef = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}/[a-z]{2}(-[a-z]+)+-[0-9]$")]

MAX_TEMPLATE_BODY = 10_240  # API_RegistrationConfig.html: templateBody length


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Account(Strict):
    """An AWS account fleet manages, reached by assuming ``deployer_role_arn``."""

    id: AccountId = Field(description="12-digit AWS account id")
    deployer_role_arn: RoleArn = Field(description="IAM role fleet assumes in this account")
    regions: list[Region] = Field(min_length=1, description="regions fleet manages in this account")

    @field_validator("regions")
    @classmethod
    def _unique(cls, regions: list[str]) -> list[str]:
        seen = [r for i, r in enumerate(regions) if r in regions[:i]]
        if seen:
            raise ValueError(f"region {seen[0]!r} is listed twice")
        return regions

    @model_validator(mode="after")
    def _role_in_account(self) -> Account:
        role_account = self.deployer_role_arn.split(":")[4]
        if role_account != self.id:
            raise ValueError(f"deployer_role_arn is in account {role_account}, not in this account ({self.id})")
        return self


class PrivateKey(Strict):
    """Where the CA's private key lives. Only the reference is ever stored."""

    kms: KmsKeyArn | None = Field(
        default=None,
        description="recommended: the ARN of the AWS KMS key (asymmetric, SIGN_VERIFY: ECC_NIST_P256, "
        "ECC_NIST_P384, RSA_2048, RSA_3072 or RSA_4096) that holds the CA's key; fleet asks KMS to sign, and the "
        "key never leaves it",
    )
    role_arn: RoleArn | None = Field(
        default=None,
        description="with kms: the role fleet assumes to use the key (default: the deployer role of "
        "the account the key's ARN names)",
    )
    env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = Field(
        default=None, description="environment variable holding the PEM private key"
    )
    file: str | None = Field(default=None, description="PEM private key file, relative to this manifest")

    @model_validator(mode="after")
    def _exactly_one(self) -> PrivateKey:
        if [self.kms, self.env, self.file].count(None) != 2:
            raise ValueError("give exactly one of kms, env or file")
        if self.role_arn is not None and self.kms is None:
            raise ValueError("role_arn goes with kms (the role fleet uses the KMS key through)")
        return self


class RegistrationConfig(Strict):
    """Just-in-time provisioning for devices auto-registering under the CA."""

    template_body: str | None = Field(default=None, description="JITP template (JSON)")
    template_name: str | None = Field(default=None, description="name of a JITP provisioning template")
    role_arn: RoleArn | None = Field(default=None, description="role AWS IoT assumes to provision")

    @model_validator(mode="after")
    def _body_or_name(self) -> RegistrationConfig:
        if self.template_body is not None and self.template_name is not None:
            raise ValueError("give template_body or template_name, not both")
        if self.template_body is not None:
            if len(self.template_body) > MAX_TEMPLATE_BODY:
                raise ValueError(f"template_body is longer than {MAX_TEMPLATE_BODY} characters")
            try:
                json.loads(self.template_body)
            except json.JSONDecodeError as error:
                raise ValueError(f"template_body is not valid JSON: {error}") from None
            except RecursionError:
                raise ValueError("template_body is JSON nested too deeply") from None
        return self


class AutoActivation(Strict):
    """Activate the certificates devices register themselves under this CA
    (just-in-time registration), except any revoked anywhere, on the CA's
    revocation list, or not signed by the CA."""

    policies: list[Name] = Field(default_factory=list, max_length=10, description="policies to attach on activation")


class Placement(Strict):
    """Where a CA is registered, and in which state."""

    account: Name = Field(description="an account name from the accounts section")
    regions: list[Region] | None = Field(default=None, min_length=1, description="default: every region of the account")
    status: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"
    auto_registration: Literal["ENABLE", "DISABLE"] = "DISABLE"
    registration_config: RegistrationConfig | None = None
    auto_activation: AutoActivation | None = Field(
        default=None, description="let `pulumi up` activate pending just-in-time registrations (needs ENABLE)"
    )

    @model_validator(mode="after")
    def _activation_needs_registration(self) -> Placement:
        if self.auto_activation is not None and self.auto_registration != "ENABLE":
            raise ValueError("auto_activation needs auto_registration: ENABLE")
        return self


class GroupPlacement(Strict):
    """Where a group of device certificates is registered."""

    account: Name = Field(description="an account name from the accounts section")
    regions: list[Region] | None = Field(default=None, min_length=1, description="default: every region of the account")


class CertificateAuthority(Strict):
    """A CA certificate and where it is registered."""

    certificate: str = Field(description="PEM file of the CA certificate, relative to this manifest")
    private_key: PrivateKey | None = Field(
        default=None,
        description="DEFAULT mode: the key that signs the verification certificate (kms: "
        "recommended), or verification_certificates instead; needed only to register the CA where it is not "
        "registered yet (see registered_in)",
    )
    verification_certificates: dict[PlaceRef, str] | None = Field(
        default=None,
        description="DEFAULT mode without private_key: ACCOUNT_ID/REGION -> a verification "
        "certificate the CA's key signed offline (an HSM, an air-gapped root) for that account and region's "
        "registration code (`fleet registration-codes` lists them), PEM file relative to this manifest",
    )
    mode: Literal["DEFAULT", "SNI_ONLY"] = "DEFAULT"
    registered_in: list[PlaceRef] = Field(
        default_factory=list,
        description="ACCOUNT_ID/REGION where the CA was registered before fleet managed it "
        "(`fleet import` writes them): a DEFAULT-mode CA without private_key is valid only if it is registered "
        "already wherever it is placed",
    )
    revocation_list: str | None = Field(
        default=None,
        description="the CA's CRL file (PEM or DER), relative to this manifest; certificates on it "
        "are never activated automatically",
    )
    placements: list[Placement] = Field(min_length=1)


class Policy(Strict):
    """An IoT policy document, created in every account and region where a
    certificate group that uses it is placed."""

    document: str = Field(
        description="JSON file, relative to this manifest; {{account}}, {{account_id}} and {{region}} are "
        "replaced per account and region"
    )
    other_versions: Literal["delete", "keep"] = Field(
        default="delete",
        description="what fleet does with the policy's versions other than the default one: "
        "delete them (fleet keeps one version), or keep them (`fleet import` writes keep for a policy that has "
        "some, so that adopting it deletes nothing; AWS's limit of 5 still prunes the oldest when the document "
        "changes)",
    )


class Revocation(Strict):
    reason: str = Field(min_length=1)
    date: datetime.date


class Revocable(Strict):
    """A status that may be REVOKED, which then carries its revocation. A
    revocation beside another status is refused in stage 3
    (fleet.manifest.device_rules), after the revocation ledger's refusal: a
    revoked certificate flipped back to ACTIVE, its revocation left, is
    refused as a reactivation first."""

    status: Literal["ACTIVE", "INACTIVE", "REVOKED"] = "ACTIVE"
    revocation: Revocation | None = Field(default=None, description="required when status is REVOKED, and only then")

    @model_validator(mode="after")
    def _revoked_with_revocation(self) -> Revocable:
        if self.status == CertificateStatus.REVOKED and self.revocation is None:
            raise ValueError("status REVOKED needs a revocation (reason, date)")
        return self


class CertificateException(Revocable):
    """One certificate of a group whose status differs from the group's."""

    certificate: str = Field(description="PEM file of the certificate, relative to this manifest")
    status: Literal["ACTIVE", "INACTIVE", "REVOKED"]


class CertificateGroup(Revocable):
    """Device certificates registered and managed together, from PEM files."""

    ca: Name | None = Field(default=None, description="the CA that signed them; omit to register without a CA")
    certificates: str = Field(description="a PEM file or a folder of *.pem files, relative to this manifest")
    placements: list[GroupPlacement] | None = Field(
        default=None, description="where to register them; default: every placement of the CA"
    )
    policies: list[Name] = Field(default_factory=list, max_length=10)
    things: Literal["none", "common-name"] = Field(
        default="none", description="common-name: attach each certificate to the thing named by its subject CN"
    )
    exceptions: list[CertificateException] = Field(default_factory=list)


class LedgerEntry(Strict):
    """Certificates revoked together: when, why, under which CA, and every
    account and region where they were revoked."""

    date: datetime.date = Field(description="when they were revoked (not in the future)")
    reason: str = Field(min_length=1)
    ca: Name | None = Field(default=None, description="the CA that signed them, by its manifest name")
    places: list[PlaceRef] = Field(min_length=1, description="ACCOUNT_ID/REGION where they were revoked")
    certificates: str = Field(description="their fingerprints (AWS certificate ids): a literal block (|), one per line")

    @property
    def fingerprints(self) -> list[str]:
        """The block's lines that are fingerprints (fleet.manifest.ledger_rules refuses the others)."""
        return [line.strip() for line in self.certificates.splitlines() if FINGERPRINT.fullmatch(line.strip())]


class Ledger(Strict):
    """The revocation ledger: every certificate ever revoked. It only grows:
    `fleet validate --base` refuses a change that removes or alters an entry,
    and fleet treats as revoked every fingerprint the ledger's history holds."""

    roles: dict[AccountId, RoleArn] = Field(
        default_factory=dict,
        description="the role fleet assumes in each account of the ledger, to keep its "
        "records there even once the manifests no longer list the account",
    )
    entries: list[LedgerEntry] = Field(default_factory=list)


class AuditSuppression(Strict):
    """One finding of `fleet audit` silenced, for a reason, until a date. A
    suppression without a reason or an expiry, or expired, silences nothing
    and is a finding itself."""

    check: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_]+$")] = Field(
        description="the check's name, as `fleet audit` prints it (IOT_POLICY_OVERLY_PERMISSIVE_CHECK)"
    )
    resource: str = Field(
        min_length=1,
        description="the finding's resource, as `fleet audit` prints it "
        "(policy:telemetry, ca:factory-root, certificate:pki/devices/d1.pem, group:line-1)",
    )
    reason: str = Field(default="", description="why the finding is accepted (required)")
    expires: datetime.date | None = Field(default=None, description="the last day it is silenced (required)")


class Audit(Strict):
    """`fleet audit`: Device Defender's certificate and policy checks on the manifests."""

    suppressions: list[AuditSuppression] = Field(default_factory=list)
    device_certificate_expiring_days: int | None = Field(
        default=None,
        ge=30,
        le=3652,
        description="DEVICE_CERTIFICATE_EXPIRING_CHECK: days before expiry a "
        "certificate is reported (Device Defender's CERT_EXPIRATION_THRESHOLD_IN_DAYS; default 30)",
    )
    device_certificate_age_days: int | None = Field(
        default=None,
        ge=30,
        le=3652,
        description="DEVICE_CERTIFICATE_AGE_CHECK: age in days from which an ACTIVE "
        "certificate is reported (Device Defender's CERT_AGE_THRESHOLD_IN_DAYS; off unless set, as in Device "
        "Defender)",
    )


class ManifestFile(Strict):
    """One YAML file under manifests/."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="fleet manifest (v1)")

    accounts: dict[Name, Account] = Field(default_factory=dict)
    cas: dict[Name, CertificateAuthority] = Field(default_factory=dict)
    policies: dict[Name, Policy] = Field(default_factory=dict)
    device_certificates: dict[Name, CertificateGroup] = Field(default_factory=dict)
    revocations: Ledger | None = Field(default=None, description="the revocation ledger (manifests/revocations.yaml)")
    audit: Audit | None = Field(default=None, description="settings and suppressions of `fleet audit`")
    outside_repository: list[str] = Field(
        default_factory=list,
        description="absolute folders outside the repository that manifests may name files "
        "in (where CA private keys are kept, say); every other path must stay inside the repository",
    )

    @field_validator("outside_repository")
    @classmethod
    def _absolute(cls, folders: list[str]) -> list[str]:
        relative = [f for f in folders if not f.startswith("/")]
        if relative:
            raise ValueError(f"{relative[0]!r} is not an absolute folder")
        return folders
