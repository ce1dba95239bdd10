"""The audit's inventory from what AWS holds (`fleet audit --aws`): every CA,
device certificate and policy of every account and region of the manifests,
read with list calls through fleet.aws (the reader role when
FLEET_READER_ROLE is set: the drift workflow's).

A certificate the manifests declare is known by its fingerprint (AWS's
certificate id), so its PEM comes from the manifests; only a certificate AWS
has and the manifests do not is described, one call each. What the
manifests declare is located at its line there; what only AWS has, at its
account's entry in the manifests. A CA's revocation list is the one its
manifest entry names, whether or not AWS has the CA registered.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from cryptography import x509

from fleet.audit.findings import Location, Place
from fleet.audit.from_manifests import location
from fleet.audit.inventory import CaRecord, CertificateFacts, DeviceRecord, Inventory, PolicyRecord
from fleet.aws.ca import CaCertificates
from fleet.aws.certificates import Certificates
from fleet.aws.policies import Policies
from fleet.aws.session import SessionFactory
from fleet.aws.status import CaStatus
from fleet.crypto import pki
from fleet.manifest.desired import Fleet


@dataclass
class _Found:
    cas: dict[str, tuple[x509.Certificate, list[Place]]] = field(default_factory=dict)
    certificates: dict[str, tuple[str, str | None, list[Place], CertificateFacts | None]] = field(default_factory=dict)
    policies: dict[tuple[str, str], list[Place]] = field(default_factory=lambda: defaultdict(list))


def inventory(
    fleet: Fleet, facts: dict[str, CertificateFacts], sessions: SessionFactory, declared: Inventory
) -> Inventory:
    """``declared``: the manifests' own inventory (for locations, CRLs and the revoked keys)."""
    found = _Found()
    for account in fleet.accounts:
        for region in account.regions:
            iot = sessions.client("iot", account.role_arn, account.id, region)
            _read(iot, Place(account.name, account.id, region), facts, found)
    accounts = {a.id: location(a.source) for a in fleet.accounts if a.source}
    return Inventory(
        cas=_cas(found, declared, accounts),
        certificates=_certificates(found, declared, accounts),
        policies=_policies(found, declared, accounts),
        revoked_keys=declared.revoked_keys,
    )


def _read(iot: object, place: Place, facts: dict[str, CertificateFacts], found: _Found) -> None:
    where = str(place)
    cas = CaCertificates(iot, where)
    for listed_id, status in cas.listed():
        known = found.cas.get(listed_id)
        if known is None:
            known = found.cas[listed_id] = (pki.load_certificate(cas.pem(listed_id).encode()), [])
        if status == CaStatus.ACTIVE:
            known[1].append(place)
    certificates = Certificates(iot, where)
    for summary in certificates.list():
        entry = found.certificates.get(summary.certificate_id)
        if entry is None:
            ca_id: str | None = None
            known_facts = facts.get(summary.certificate_id)
            if known_facts is None:  # only AWS has it: its PEM and CA from one describe
                described = certificates.describe(summary.certificate_id)
                known_facts = CertificateFacts.of(pki.load_certificate(str(described["certificatePem"]).encode()))
                ca_id = str(described["caCertificateId"]) if described.get("caCertificateId") else None
            entry = found.certificates[summary.certificate_id] = (summary.status, ca_id, [], known_facts)
        entry[2].append(place)
    policies = Policies(iot, where)
    for name in policies.names():
        state = policies.get(name)
        if state is not None:
            found.policies[(name, state.document)].append(place)


def _account(places: list[Place], accounts: dict[str, Location]) -> Location:
    return accounts.get(places[0].account_id, Location("manifests", 1)) if places else Location("manifests", 1)


def _cas(found: _Found, declared: Inventory, accounts: dict[str, Location]) -> tuple[CaRecord, ...]:
    by_id = {pki.certificate_id(ca.certificate): ca for ca in declared.cas}
    records = []
    for ca_id, (cert, active) in sorted(found.cas.items()):
        mine = by_id.get(ca_id)
        records.append(
            CaRecord(
                name=mine.name if mine else ca_id,
                certificate=cert,
                active_in=tuple(active),
                location=mine.location if mine else _account(active, accounts),
                crl=mine.crl if mine else None,
            )
        )
    # A CA's revocation list holds for its certificates in AWS whether or not AWS has the CA registered.
    records += [
        CaRecord(ca.name, ca.certificate, (), ca.location, ca.crl)
        for ca_id, ca in sorted(by_id.items())
        if ca_id not in found.cas and ca.crl is not None
    ]
    return tuple(records)


def _certificates(found: _Found, declared: Inventory, accounts: dict[str, Location]) -> tuple[DeviceRecord, ...]:
    mine = {c.fingerprint: c for c in declared.certificates}
    ca_names = {pki.certificate_id(ca.certificate): ca.name for ca in declared.cas}
    records = []
    for certificate_id, (status, ca_id, places, facts) in sorted(found.certificates.items()):
        known = mine.get(certificate_id)
        records.append(
            DeviceRecord(
                fingerprint=certificate_id,
                label=known.label if known else certificate_id,
                status=status,
                places=tuple(places),
                location=known.location if known else _account(places, accounts),
                ca=known.ca if known else ca_names.get(ca_id or "", ca_id),
                group=known.group if known else None,
                facts=facts,
            )
        )
    return tuple(records)


def _policies(found: _Found, declared: Inventory, accounts: dict[str, Location]) -> tuple[PolicyRecord, ...]:
    mine = {p.name: p for p in declared.policies}
    records = []
    for (name, document), places in sorted(found.policies.items()):
        known = mine.get(name)
        records.append(
            PolicyRecord(
                name=name,
                document=json.loads(document),
                places=tuple(places),
                location=known.location if known else _account(places, accounts),
                statement_lines=known.statement_lines if known and json.loads(document) == known.document else (),
            )
        )
    return tuple(records)
