"""The program's one look at AWS before it declares anything: what the
fleet-wide decisions need (the revocation guard, just-in-time activation),
read with list calls (250 a page), accounts and regions in parallel.

Per account and region: ListCertificates (every certificate and its status:
the guard's record of revocations). Per CA placement: DescribeCACertificate,
and for placements with ``auto_activation`` (or for `fleet pending`, every
placement) ListCertificatesByCA and one DescribeCertificate per pending
registration, whose PEM the decision reads. Describe calls are made only for
the few certificates a decision or a message needs (revoked ones the
manifests want usable, to date the refusal). Resources read the rest of what
they own themselves, at refresh (fleet.model.observe).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field

from fleet.aws.ca import CaCertificates, CaState
from fleet.aws.certificates import Certificates, CertificateSummary
from fleet.aws.errors import NotFound
from fleet.aws.session import SessionFactory
from fleet.aws.status import CertificateStatus
from fleet.manifest.desired import AccountSpec, Fleet

PENDING = CertificateStatus.PENDING_ACTIVATION
ACTIONS = frozenset(
    {"iot:ListCertificates", "iot:DescribeCertificate", "iot:DescribeCACertificate", "iot:ListCertificatesByCA"}
)


@dataclass
class Place:
    """What AWS has in one account and region, as far as the decisions need."""

    account: AccountSpec
    region: str
    certificates: dict[str, CertificateSummary] = field(default_factory=dict)  # every one, by id
    revoked_on: dict[str, str] = field(default_factory=dict)  # revoked ones the manifests want usable -> date
    cas: dict[str, CaState | None] = field(default_factory=dict)  # managed CA id -> state (None: absent)
    under_ca: dict[str, list[CertificateSummary]] = field(default_factory=dict)  # CA id -> its certificates
    pending_pems: dict[str, str] = field(default_factory=dict)  # pending registrations decided on -> PEM

    @property
    def where(self) -> str:
        if self.account.name == self.account.id:  # known by its id only (the ledger's, a state's)
            return f"account {self.account.id}, {self.region}"
        return f"account {self.account.name} ({self.account.id}), {self.region}"


@dataclass(frozen=True)
class Survey:
    places: dict[tuple[str, str], Place]  # (account id, region) -> what AWS has there

    def place(self, account_id: str, region: str) -> Place | None:
        return self.places.get((account_id, region))

    def __iter__(self) -> Iterator[Place]:
        return iter(self.places.values())

    def revoked_anywhere(self) -> set[str]:
        return {fp for place in self for fp, c in place.certificates.items() if c.status == CertificateStatus.REVOKED}


def survey(
    fleet: Fleet,
    sessions: SessionFactory,
    all_pending_pems: bool = False,
    elsewhere: Mapping[tuple[str, str], str] | None = None,
) -> Survey:
    """``all_pending_pems``: list and describe the pending registrations under
    every placement, not only those with auto_activation (`fleet pending`).
    ``elsewhere``: (account id, region) -> role ARN of places a record may be
    beyond the manifests' accounts and regions (the ledger's, the recorded
    state's): the guard looks there too."""
    targets = [(account, region) for account in fleet.accounts for region in account.regions]
    names = {a.id: a.name for a in fleet.accounts}
    for (account_id, region), role in sorted((elsewhere or {}).items()):
        if not any(a.id == account_id and region in a.regions for a in fleet.accounts):
            targets.append((AccountSpec(names.get(account_id, account_id), account_id, role, ()), region))
    usable = {
        c.fingerprint for g in fleet.certificate_groups for c in g.certificates if c.status != CertificateStatus.REVOKED
    }
    with ThreadPoolExecutor(max_workers=8) as pool:  # accounts and regions in parallel
        places = list(pool.map(lambda t: _look(fleet, usable, sessions, t[0], t[1], all_pending_pems), targets))
    return Survey({(p.account.id, p.region): p for p in places})


def _look(
    fleet: Fleet, usable: set[str], sessions: SessionFactory, account: AccountSpec, region: str, all_pending_pems: bool
) -> Place:
    """``usable``: the fingerprints the manifests want ACTIVE or INACTIVE."""
    place = Place(account, region)
    iot = sessions.client("iot", account.role_arn, account.id, region)
    certificates = Certificates(iot, place.where)
    place.certificates = {c.certificate_id: c for c in certificates.list()}

    revoked_here = {fp for fp, c in place.certificates.items() if c.status == CertificateStatus.REVOKED}
    for fingerprint in sorted(usable & revoked_here):
        with suppress(NotFound):  # deleted since the listing: nothing left to protect here
            place.revoked_on[fingerprint] = certificates.last_modified(fingerprint)

    cas = CaCertificates(iot, place.where)
    for spec in fleet.ca_placements:
        if (spec.account_id, spec.region) != (account.id, region):
            continue
        place.cas[spec.certificate_id] = state = cas.describe(spec.certificate_id)
        if state is None or not (all_pending_pems or spec.activation_policies is not None):
            continue
        place.under_ca[spec.certificate_id] = under = list(certificates.list(spec.certificate_id))
        for pending in (c for c in under if c.status == PENDING):
            with suppress(NotFound):  # deleted since the listing
                place.pending_pems[pending.certificate_id] = certificates.pem(pending.certificate_id)
    return place
