"""What AWS has in one account and region, as an import reads it: list calls
(250 a page) and a call per CA and per policy, never one per certificate.

Per place: ListCACertificates and one DescribeCACertificate per CA (its
settings and PEM); ListPolicies, and per policy GetPolicy (the default
document), ListPolicyVersions and ListTargetsForPolicy (its attachments:
read per policy, not per certificate); ListCertificates (every certificate
and its status) and ListCertificatesByCA per CA (which CA it is registered
under). PEMs and thing attachments, which AWS gives per certificate only,
are fleet.importing.fetching's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleet.aws.ca import CaCertificates, CaState
from fleet.aws.certificates import Certificates
from fleet.aws.policies import Policies
from fleet.model.declarations import actions

# Every AWS IoT action an import calls (fleet.scaffold.iam puts them in both roles' policies).
ACTIONS = actions(
    "ListCACertificates",
    "DescribeCACertificate",
    "ListPolicies",
    "GetPolicy",
    "ListPolicyVersions",
    "ListTargetsForPolicy",
    "ListCertificates",
    "ListCertificatesByCA",
    "DescribeCertificate",
    "ListPrincipalThings",
)


@dataclass(frozen=True, order=True)
class Place:
    """An account and region of the manifests."""

    account_id: str
    region: str
    account: str  # its name in the manifests
    role_arn: str

    @property
    def key(self) -> tuple[str, str]:
        return self.account_id, self.region

    @property
    def label(self) -> str:
        return f"{self.account}/{self.region}"

    @property
    def where(self) -> str:
        return f"account {self.account} ({self.account_id}), {self.region}"


@dataclass(frozen=True)
class CaFound:
    state: CaState
    pem: str


@dataclass(frozen=True)
class PolicyFound:
    name: str
    document: str  # the default version's, as AWS has it
    other_versions: tuple[str, ...]  # ids of the versions besides the default
    targets: frozenset[str]  # ARNs of every principal it is attached to


@dataclass(frozen=True, slots=True)
class CertificateFound:
    certificate_id: str
    arn: str
    status: str
    ca_id: str | None  # the CA it is registered under here; None: registered without a CA


@dataclass(frozen=True)
class PlaceEstate:
    place: Place
    cas: dict[str, CaFound]  # by certificate id
    policies: dict[str, PolicyFound]  # by name
    certificates: dict[str, CertificateFound]  # by certificate id


def read(place: Place, iot: Any, say: Callable[[str], None]) -> PlaceEstate:
    """Everything but PEMs and things; AWS errors (fleet.aws.errors) name the place."""
    cas_api, certificates_api = CaCertificates(iot, place.where), Certificates(iot, place.where)
    policies_api = Policies(iot, place.where)
    cas = {}
    for ca_id in cas_api.list():
        found = cas_api.read(ca_id)
        if found is not None:  # deleted since the listing
            cas[ca_id] = CaFound(*found)
    policies = {}
    for name in policies_api.names():
        default = policies_api.default(name)
        if default is None:
            continue
        others = tuple(str(v) for v, is_default in policies_api.versions(name) if not is_default)
        policies[name] = PolicyFound(name, default[1], others, frozenset(certificates_api.targets_of(name)))
    under = {c.certificate_id: ca_id for ca_id in cas for c in certificates_api.list(ca_id)}
    certificates = {
        c.certificate_id: CertificateFound(c.certificate_id, c.arn, c.status, under.get(c.certificate_id))
        for c in certificates_api.list()
    }
    say(
        f"fleet import: {place.label}: {len(cas):,} CA(s), {len(policies):,} policies, "
        f"{len(certificates):,} certificate(s)"
    )
    return PlaceEstate(place, cas, policies, certificates)
