"""The resources the program declares: the manifests, expanded into one
declaration per resource (fleet.model.declarations), sorted, with stable names.

This is where decisions that need the whole fleet are taken, once:
- every certificate a memory of revocation holds (the ledger and its history,
  any stack's recorded state) is declared REVOKED wherever it should have its
  record: where the ledger or a state revoked it, and wherever AWS has it
  now; so `pulumi up` registers again, REVOKED, a record deleted by hand
  (from the PEM copy under manifests/revoked/), and revokes a copy that
  appears elsewhere, under any CA or none;
- just-in-time registrations that a placement's ``auto_activation`` takes in
  (fleet.jitr.activation decides, from the run's survey of AWS) become declared
  certificates of the pseudo-group ``auto:<CA>``, ACTIVE with the placement's
  policies, so the certificate resources activate them like any change;
- every account and region where fleet places a CA or a policy, or declares a
  certificate, gets all of its certificate shards, so each shard reports what
  nothing declares (certificates under a managed CA, fleet policies attached
  by hand) across the whole fingerprint range.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fleet.aws.status import CaStatus, CertificateStatus
from fleet.jitr.activation import Verdict, decide
from fleet.manifest.desired import CaPlacementSpec, Fleet
from fleet.manifest.groups import GroupKind, group_name
from fleet.model.declarations import (
    SHARDS,
    CaPlacementInputs,
    GroupInputs,
    JitrInputs,
    PolicyInputs,
    ShardInputs,
    Stored,
    shard_of,
)
from fleet.model.survey import PENDING, Place, Survey
from fleet.program import jitr
from fleet.revocation.state_records import Recorded

PlaceKey = tuple[str, str]  # (account id, region)


@dataclass(frozen=True)
class Resources:
    policies: tuple[PolicyInputs, ...]
    cas: tuple[CaPlacementInputs, ...]
    shards: tuple[ShardInputs, ...]
    notes: tuple[str, ...] = ()  # what the run should warn about (a record it cannot restore)
    jitr: tuple[JitrInputs, ...] = ()  # just-in-time activation where a placement has auto_activation
    packages: dict[str, bytes] = field(default_factory=dict)  # their function's package, by code_sha256
    jitr_configuration: str = ""  # the function's configuration (fleet.jitr.configuration), deployed or not

    def within(self, places: frozenset[PlaceKey]) -> Resources:
        """Only what is in ``places`` (a sharded stack's: fleet.program.stack_scope)."""
        return Resources(
            tuple(p for p in self.policies if p.place in places),
            tuple(c for c in self.cas if c.place in places),
            tuple(s for s in self.shards if s.place in places),
            self.notes,
            tuple(j for j in self.jitr if j.place in places),
            self.packages,
            self.jitr_configuration,
        )

    def in_place(self, place: tuple[str, str]) -> tuple[list[PolicyInputs], list[CaPlacementInputs]]:
        return [p for p in self.policies if p.place == place], [c for c in self.cas if c.place == place]


def declare(fleet: Fleet, survey: Survey, project_dir: Path, recorded: Iterable[Recorded] = ()) -> Resources:
    policies = tuple(
        PolicyInputs(
            policy=p.name,
            account=p.account,
            account_id=p.account_id,
            role_arn=p.role_arn,
            region=p.region,
            document=p.document,
            source=p.source,
            keep_other_versions=p.keep_other_versions,
        )
        for p in fleet.policies
    )
    cas = tuple(ca_inputs(p, _registered(p, survey)) for p in fleet.ca_placements)
    notes: list[str] = []
    recorded = list(recorded)
    shards = _shards(fleet, survey, project_dir, recorded, notes)
    # The manifests' and the ledger's places only: `fleet drift` and `fleet jitr-config`, which read no
    # stack's state, expect the very same configuration.
    activation = jitr.declare(fleet)
    return Resources(
        policies, cas, shards, tuple(notes), activation.inputs, activation.packages, activation.configuration
    )


def ca_inputs(spec: CaPlacementSpec, registered: bool = True) -> CaPlacementInputs:
    """``registered``: AWS has the CA here already, so an offline verification certificate is not declared."""
    return CaPlacementInputs(
        ca=spec.ca,
        account=spec.account,
        account_id=spec.account_id,
        role_arn=spec.role_arn,
        region=spec.region,
        certificate_pem=spec.certificate_pem,
        certificate_id=spec.certificate_id,
        mode=spec.mode,
        status=spec.status,
        auto_registration=spec.auto_registration,
        registration_config=dict(spec.registration_config),
        private_key=spec.private_key.as_dict() if spec.private_key else None,
        source=spec.source,
        verification_certificate=None if registered else spec.verification_certificate,
    )


def _registered(spec: CaPlacementSpec, survey: Survey) -> bool:
    place = survey.place(spec.account_id, spec.region)
    return place is None or place.cas.get(spec.certificate_id) is not None


def _shards(
    fleet: Fleet, survey: Survey, project_dir: Path, recorded: list[Recorded], notes: list[str]
) -> tuple[ShardInputs, ...]:
    by_place: dict[PlaceKey, dict[str, dict[str, GroupInputs]]] = defaultdict(lambda: defaultdict(dict))
    for group in fleet.certificate_groups:
        for shard in SHARDS:
            certificates: dict[str, Stored] = {
                c.fingerprint: c.status for c in group.certificates if shard_of(c.fingerprint) == shard
            }
            if certificates:
                by_place[(group.account_id, group.region)][shard][group_name(GroupKind.MANIFEST, group.group)] = (
                    GroupInputs(
                        ca=group.ca,
                        ca_id=group.ca_id,
                        pem=_relative(group.path, project_dir),
                        policies=group.policies,
                        things=group.things,
                        source=group.source,
                        certificates=certificates,
                    )
                )
    revoked = revoked_everywhere(fleet, survey)
    for spec in fleet.ca_placements:
        for shard, taken in _activated(fleet, spec, survey.place(spec.account_id, spec.region), revoked).items():
            by_place[(spec.account_id, spec.region)][shard][group_name(GroupKind.AUTOMATIC, spec.ca)] = taken
    roles = _roles(fleet, recorded)
    for place, ledger_groups in _records(fleet, survey, recorded, project_dir, notes).items():
        if place[0] not in roles:
            notes.append(
                f"cannot keep the REVOKED records in account {place[0]}, {place[1]}: no role for it (revocations.roles)"
            )
            continue
        for (shard, name), record_group in ledger_groups.items():
            by_place[place][shard][name] = record_group

    accounts = {a.id: a for a in fleet.accounts}
    managed = (
        {(c.account_id, c.region) for c in fleet.ca_placements}
        | {(p.account_id, p.region) for p in fleet.policies}
        | {(g.account_id, g.region) for g in fleet.certificate_groups}
    )
    shards = []
    for place in sorted(managed | set(by_place)):
        account_id, region = place
        name = accounts[account_id].name if account_id in accounts else account_id
        # Where fleet manages CAs, policies or certificates: every shard (each reports what nothing
        # declares in its range). Where it only keeps the ledger's records: the shards that hold some.
        for shard in SHARDS if place in managed else sorted(by_place[place]):
            shards.append(
                ShardInputs(
                    account=name,
                    account_id=account_id,
                    role_arn=roles[account_id],
                    region=region,
                    shard=shard,
                    policies=tuple(sorted({p.name for p in fleet.policies if (p.account_id, p.region) == place})),
                    cas=tuple(
                        sorted({p.certificate_id for p in fleet.ca_placements if (p.account_id, p.region) == place})
                    ),
                    groups=dict(sorted(by_place[place][shard].items())),
                )
            )
    return tuple(sorted(shards, key=lambda s: (s.account, s.region, s.shard)))


def _roles(fleet: Fleet, recorded: list[Recorded]) -> dict[str, str]:
    """account id -> the role fleet reaches it by: the manifests', else the ledger's, else a state's."""
    roles = {account_id: role for stack in recorded for (account_id, _), role in stack.places.items() if role}
    roles.update(fleet.ledger.roles)
    roles.update({a.id: a.role_arn for a in fleet.accounts})
    return roles


def _records(
    fleet: Fleet, survey: Survey, recorded: list[Recorded], project_dir: Path, notes: list[str]
) -> dict[PlaceKey, dict[tuple[str, str], GroupInputs]]:
    """The REVOKED records each account and region should keep, as ledger groups
    per (shard, group name): one group per CA the ledger names, so each record is
    registered under its CA where that CA is placed (else without a CA)."""
    where: dict[str, set[PlaceKey]] = defaultdict(set)
    for fp, revocation in fleet.ledger.revocations.items():
        where[fp] |= revocation.places
    for looked in survey:
        for fp in looked.certificates:
            if fleet.ledger.revoked(fp):
                where[fp].add((looked.account.id, looked.region))
    for stack in recorded:
        for place_key, fps in stack.revoked.items():
            for fp in fps:
                where[fp].add(place_key)
    declared = {(g.account_id, g.region, c.fingerprint) for g in fleet.certificate_groups for c in g.certificates}
    ca_ids = {(p.ca, p.account_id, p.region): p.certificate_id for p in fleet.ca_placements}
    archive = Path(fleet.ledger.archive)
    groups: dict[PlaceKey, dict[tuple[str, str], GroupInputs]] = defaultdict(dict)
    for fp, places in sorted(where.items()):
        known = fleet.ledger.revocations.get(fp)
        for place in sorted(places):
            account_id, region = place
            if (account_id, region, fp) in declared:
                continue  # the manifests declare it here (REVOKED: validate saw to it)
            live = survey.place(account_id, region)
            in_aws = live is not None and fp in live.certificates
            if not in_aws and not (archive / f"{fp}.pem").is_file():
                notes.append(
                    f"cannot register the REVOKED record of certificate {fp} again in account "
                    f"{account_id}, {region}: no copy of its PEM at {archive / (fp + '.pem')}"
                )
                continue
            ca = known.ca if known is not None else None
            ca_id = ca_ids.get((ca, account_id, region)) if ca else None
            name = group_name(GroupKind.LEDGER, ca if ca_id else None)
            key = (shard_of(fp), name)
            group = groups[place].get(key) or GroupInputs(
                ca=ca if ca_id else None,
                ca_id=ca_id,
                pem=_relative(str(archive), project_dir),
                policies=(),
                things="none",
                source=known.source if known else "the recorded state",
                certificates={},
            )
            group.certificates[fp] = CertificateStatus.REVOKED
            groups[place][key] = group
    return groups


def _relative(path: str, project_dir: Path) -> str:
    return os.path.relpath(path, project_dir) if path else ""


def _activated(fleet: Fleet, spec: CaPlacementSpec, place: Place | None, revoked: set[str]) -> dict[str, GroupInputs]:
    """The certificates under the placement's CA that auto_activation takes in,
    per shard: pending registrations fleet.jitr.activation allows, and those it took
    in before (ACTIVE, declared nowhere, revoked nowhere)."""
    if spec.activation_policies is None or place is None:
        return {}
    declared = {c.fingerprint for g in fleet.certificate_groups for c in g.certificates}
    taken: dict[str, dict[str, str]] = defaultdict(dict)
    for cert in place.under_ca.get(spec.certificate_id, []):
        fp = cert.certificate_id
        if fp in declared or fp in revoked:
            continue
        if cert.status == CertificateStatus.ACTIVE or (
            cert.status == PENDING and fp in place.pending_pems and verdict_for(spec, place, fp, revoked).activate
        ):
            taken[shard_of(fp)][fp] = CertificateStatus.ACTIVE
    return {
        shard: GroupInputs(
            ca=spec.ca,
            ca_id=spec.certificate_id,
            pem="",
            policies=spec.activation_policies,
            things="none",
            source=spec.source,
            certificates=dict(sorted(certificates.items())),
        )
        for shard, certificates in taken.items()
    }


def revoked_everywhere(fleet: Fleet, survey: Survey) -> set[str]:
    """Fingerprints revoked in any account and region fleet looked at, in the
    manifests, or by the revocation ledger and its history."""
    declared = {
        c.fingerprint for g in fleet.certificate_groups for c in g.certificates if c.status == CertificateStatus.REVOKED
    }
    return survey.revoked_anywhere() | declared | set(fleet.ledger.revocations) | fleet.ledger.history


def verdict_for(spec: CaPlacementSpec, place: Place, certificate_id: str, revoked: set[str]) -> Verdict:
    """The activation decision for a pending registration under the placement's CA."""
    live = place.cas.get(spec.certificate_id)
    ca_status = spec.status if live is None or live.status == CaStatus.ACTIVE else live.status
    return decide(place.pending_pems[certificate_id], PENDING, spec.certificate_pem, ca_status, spec.crl_pem, revoked)
