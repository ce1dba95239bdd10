"""What AWS has, in the shape of what was declared.

Each function takes one account and region's listing (fleet.aws.listing) and
a declaration (fleet.model.declarations) and returns the declaration as AWS has it:
a provider's read returns exactly this (so the engine's diff after a refresh
names each drifted key), and `fleet drift` compares the same two shapes. One
projection, two readers: they cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Protocol, TypeVar

from fleet.aws.certificates import CertificateSummary
from fleet.aws.functions import Functions
from fleet.aws.listing import PlaceListing
from fleet.aws.roles import Roles
from fleet.aws.status import CertificateStatus
from fleet.aws.topic_rules import TopicRules
from fleet.jitr.role import FUNCTION, POLICY, role_name
from fleet.model.declarations import (
    ABSENT,
    USABLE,
    CaPlacementInputs,
    Entry,
    GroupInputs,
    JitrInputs,
    PolicyInputs,
    ShardInputs,
    Stored,
    json_text,
    shard_of,
)

V = TypeVar("V")


class CertificateReads(Protocol):
    """What the certificate projections read: a PlaceListing (every certificate of a
    place), or a FewCertificates (some, one by one)."""

    def certificates(self) -> dict[str, CertificateSummary]: ...

    def targets(self, policy: str) -> frozenset[str]: ...

    def things_of(self, arn: str) -> tuple[str, ...]: ...


CERTIFICATE_ARN = re.compile(r"^arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:cert/([0-9a-f]{64})$")


def certificate_id(arn: str) -> str | None:
    found = CERTIFICATE_ARN.match(arn)
    return found[1] if found else None


def ca(listing: PlaceListing, declared: CaPlacementInputs) -> CaPlacementInputs | None:
    """None: AWS has no such CA here."""
    live = listing.ca(declared.certificate_id)
    if live is None:
        return None
    return replace(
        declared,
        status=live.status,
        auto_registration=live.auto_registration,
        mode=live.mode,
        registration_config=dict(live.registration_config),
    )


def policy(listing: PlaceListing, declared: PolicyInputs) -> PolicyInputs | None:
    """None: AWS has no such policy here. fleet keeps one version, the declared
    document as the default: any other version is reported (and removed),
    unless the manifests keep them."""
    found = listing.policy(declared.policy)
    if found.state is None:
        return None
    others = (
        ()
        if declared.keep_other_versions
        else tuple(str(version) for version, is_default in found.versions if not is_default)
    )
    principals = tuple(sorted(t for t in found.targets if certificate_id(t) is None))
    return replace(declared, document=found.state.document, versions_made_by_hand=others, other_principals=principals)


def certificates(
    reads: CertificateReads, wanted: Mapping[str, GroupInputs], policies: Iterable[str]
) -> dict[str, Entry]:
    """Some certificates as AWS has them, each against its group, as a read of their
    shard would report them; ``policies``: the fleet's policies in their place."""
    everything = reads.certificates()
    targets = {name: reads.targets(name) for name in policies}
    return {fp: _entry(everything, targets, fp, group, reads) for fp, group in wanted.items()}


def shard(listing: PlaceListing, declared: ShardInputs) -> ShardInputs:
    everything = listing.certificates()
    targets = {name: listing.policy(name).targets for name in declared.policies}
    groups = {
        name: replace(
            group,
            certificates={fp: _entry(everything, targets, fp, group, listing).stored() for fp in group.certificates},
        )
        for name, group in declared.groups.items()
    }
    return replace(declared, groups=groups, unlisted=_unlisted(listing, declared, everything))


def _entry(
    everything: dict[str, CertificateSummary],
    targets: dict[str, frozenset[str]],
    fp: str,
    group: GroupInputs,
    listing: CertificateReads,
) -> Entry:
    live = everything.get(fp)
    if live is None:
        return Entry(ABSENT)
    if live.status not in USABLE:
        return Entry(live.status)
    attached = {name for name, arns in targets.items() if live.arn in arns}
    thingless = group.things == "common-name" and not listing.things_of(live.arn)
    return Entry(
        live.status,
        tuple(p for p in group.policies if p not in attached),
        tuple(sorted(attached - set(group.policies))),
        thingless,
    )


def _unlisted(
    listing: PlaceListing, declared: ShardInputs, everything: dict[str, CertificateSummary]
) -> dict[str, Stored]:
    """Certificates of this shard nothing declares: under a managed CA (other
    than revoked: fleet keeps those as records), or holding a fleet policy."""
    known = set(declared.declared())
    found: dict[str, Entry] = {}
    for ca_id in declared.cas:
        for fp, under in _under_ca_by_shard(listing, ca_id).get(declared.shard, {}).items():
            if fp not in known and under.status != CertificateStatus.REVOKED:
                found[fp] = Entry(under.status)
    for name in declared.policies:
        for target in _holding_by_shard(listing, name).get(declared.shard, {}):
            if target in known:
                continue
            live = everything.get(target)
            before = found.get(target, Entry(live.status if live is not None else ABSENT))
            found[target] = replace(before, extra=tuple(sorted({*before.extra, name})))
    return {fp: entry.stored() for fp, entry in sorted(found.items())}


def _under_ca_by_shard(listing: PlaceListing, ca_id: str) -> dict[str, dict[str, CertificateSummary]]:
    split: dict[str, dict[str, CertificateSummary]] = listing.derived(
        f"under CA {ca_id}, by shard", lambda: _by_shard(listing.under_ca(ca_id).items())
    )
    return split


def _holding_by_shard(listing: PlaceListing, policy: str) -> dict[str, dict[str, str]]:
    """The certificates a policy is attached to (id -> ARN), by shard."""
    split: dict[str, dict[str, str]] = listing.derived(
        f"certificates holding {policy}, by shard",
        lambda: _by_shard((certificate_id(arn), arn) for arn in listing.policy(policy).targets),
    )
    return split


def _by_shard(items: Iterable[tuple[str | None, V]]) -> dict[str, dict[str, V]]:
    """(certificate id, value) pairs by shard; a pair without an id is left out."""
    split: dict[str, dict[str, V]] = {}
    for fp, value in items:
        if fp is not None:
            split.setdefault(shard_of(fp), {})[fp] = value
    return split


def jitr(functions: Functions, roles: Roles, rules: TopicRules, declared: JitrInputs) -> JitrInputs | None:
    """None: AWS has none of it here (no role, no function, none of the declared rules)."""
    held = roles.get(role_name(declared.region))
    function = functions.get(FUNCTION)
    found_rules = {name: rules.get(name) for name in declared.rules}
    if held is None and function is None and not any(found_rules.values()):
        return None
    role = (
        {}
        if held is None
        else {
            "trust": json_text(held.trust),
            "policy": json_text(held.policies[POLICY]) if POLICY in held.policies else "",
            "others": ", ".join(sorted([*(name for name in held.policies if name != POLICY), *held.attached])),
        }
    )
    settings = (
        {}
        if function is None
        else {
            "code_sha256": function.code_sha256,
            "runtime": function.runtime,
            "handler": function.handler,
            "role": function.role,
            "timeout": str(function.timeout),
            "memory": str(function.memory),
            "environment": json_text(function.environment),
        }
    )
    permissions = (
        {}
        if function is None
        else {
            sid: {"principal": p.principal, "source_arn": p.source_arn, "source_account": p.source_account}
            for sid, p in functions.permissions(FUNCTION).items()
        }
    )
    return replace(
        declared,
        role=role,
        function=settings,
        permissions=permissions,
        rules={
            name: {"sql": rule.sql, "enabled": "true" if rule.enabled else "false", "actions": ", ".join(rule.actions)}
            for name, rule in found_rules.items()
            if rule is not None
        },
    )
