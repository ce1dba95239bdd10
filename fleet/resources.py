"""The resources the program declares: the manifests, expanded into one
declaration per resource (fleet.declarations), sorted, with stable names.

This is where decisions that need the whole fleet are taken, once:
- just-in-time registrations that a placement's ``auto_activation`` takes in
  (fleet.activation decides, from the run's survey of AWS) become declared
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
from dataclasses import dataclass
from pathlib import Path

from fleet.activation import Verdict, decide
from fleet.declarations import (
    AUTO_GROUP,
    SHARDS,
    CaPlacementInputs,
    GroupInputs,
    PolicyInputs,
    ShardInputs,
    shard_of,
)
from fleet.manifest.desired import CaPlacementSpec, Fleet
from fleet.survey import PENDING, Place, Survey


@dataclass(frozen=True)
class Resources:
    policies: tuple[PolicyInputs, ...]
    cas: tuple[CaPlacementInputs, ...]
    shards: tuple[ShardInputs, ...]

    def in_place(self, place: tuple[str, str]) -> tuple[list[PolicyInputs], list[CaPlacementInputs]]:
        return [p for p in self.policies if p.place == place], [c for c in self.cas if c.place == place]


def declare(fleet: Fleet, survey: Survey, project_dir: Path) -> Resources:
    policies = tuple(
        PolicyInputs(policy=p.name, account=p.account, account_id=p.account_id, role_arn=p.role_arn,
                     region=p.region, document=p.document, source=p.source)
        for p in fleet.policies
    )
    cas = tuple(ca_inputs(p) for p in fleet.ca_placements)
    return Resources(policies, cas, _shards(fleet, survey, project_dir))


def ca_inputs(spec: CaPlacementSpec) -> CaPlacementInputs:
    return CaPlacementInputs(
        ca=spec.ca, account=spec.account, account_id=spec.account_id, role_arn=spec.role_arn, region=spec.region,
        certificate_pem=spec.certificate_pem, certificate_id=spec.certificate_id, mode=spec.mode,
        status=spec.status, auto_registration=spec.auto_registration,
        registration_config=dict(spec.registration_config),
        private_key=spec.private_key.as_dict() if spec.private_key else None, source=spec.source,
    )


def _shards(fleet: Fleet, survey: Survey, project_dir: Path) -> tuple[ShardInputs, ...]:
    by_place: dict[tuple[str, str], dict[str, dict[str, GroupInputs]]] = defaultdict(lambda: defaultdict(dict))
    for group in fleet.certificate_groups:
        for shard in SHARDS:
            certificates = {c.fingerprint: c.status for c in group.certificates if shard_of(c.fingerprint) == shard}
            if certificates:
                by_place[(group.account_id, group.region)][shard][group.group] = GroupInputs(
                    ca=group.ca, ca_id=group.ca_id, pem=_relative(group.path, project_dir),
                    policies=group.policies, things=group.things, source=group.source, certificates=certificates)
    revoked = revoked_everywhere(fleet, survey)
    for spec in fleet.ca_placements:
        for shard, taken in _activated(fleet, spec, survey.place(spec.account_id, spec.region), revoked).items():
            by_place[(spec.account_id, spec.region)][shard][AUTO_GROUP + spec.ca] = taken

    accounts = {a.id: a for a in fleet.accounts}
    managed = ({(c.account_id, c.region) for c in fleet.ca_placements}
               | {(p.account_id, p.region) for p in fleet.policies} | set(by_place))
    shards = []
    for account_id, region in sorted(managed):
        account = accounts[account_id]
        for shard in SHARDS:
            shards.append(ShardInputs(
                account=account.name, account_id=account_id, role_arn=account.role_arn, region=region, shard=shard,
                policies=tuple(sorted({p.name for p in fleet.policies if (p.account_id, p.region) == (account_id,
                                                                                                       region)})),
                cas=tuple(sorted({p.certificate_id for p in fleet.ca_placements
                                  if (p.account_id, p.region) == (account_id, region)})),
                groups=dict(sorted(by_place[(account_id, region)][shard].items())),
            ))
    return tuple(sorted(shards, key=lambda s: (s.account, s.region, s.shard)))


def _relative(path: str, project_dir: Path) -> str:
    return os.path.relpath(path, project_dir) if path else ""


def _activated(fleet: Fleet, spec: CaPlacementSpec, place: Place | None, revoked: set[str]) -> dict[str, GroupInputs]:
    """The certificates under the placement's CA that auto_activation takes in,
    per shard: pending registrations fleet.activation allows, and those it took
    in before (ACTIVE, declared nowhere, revoked nowhere)."""
    if spec.activation_policies is None or place is None:
        return {}
    declared = {c.fingerprint for g in fleet.certificate_groups for c in g.certificates}
    taken: dict[str, dict[str, str]] = defaultdict(dict)
    for cert in place.under_ca.get(spec.certificate_id, []):
        fp = cert.certificate_id
        if fp in declared or fp in revoked:
            continue
        if cert.status == "ACTIVE" or (cert.status == PENDING and fp in place.pending_pems
                                       and verdict_for(spec, place, fp, revoked).activate):
            taken[shard_of(fp)][fp] = "ACTIVE"
    return {shard: GroupInputs(ca=spec.ca, ca_id=spec.certificate_id, pem="", policies=spec.activation_policies,
                               things="none", source=spec.source, certificates=dict(sorted(certificates.items())))
            for shard, certificates in taken.items()}


def revoked_everywhere(fleet: Fleet, survey: Survey) -> set[str]:
    """Fingerprints revoked in any account and region fleet looked at, or in the manifests."""
    declared = {c.fingerprint for g in fleet.certificate_groups for c in g.certificates if c.status == "REVOKED"}
    return survey.revoked_anywhere() | declared


def verdict_for(spec: CaPlacementSpec, place: Place, certificate_id: str, revoked: set[str]) -> Verdict:
    """The activation decision for a pending registration under the placement's CA."""
    live = place.cas.get(spec.certificate_id)
    ca_status = spec.status if live is None or live.status == "ACTIVE" else live.status
    return decide(place.pending_pems[certificate_id], PENDING, spec.certificate_pem, ca_status, spec.crl_pem, revoked)

