"""`fleet review`: a planned change (`pulumi preview --json`) as Markdown for a
pull-request comment.

Read per account and region: what is registered, adopted, activated,
deactivated, revoked, deleted, attached and detached. What cannot be undone
(revocations) and the blast radius of deactivating a CA (the active
certificates it signed keep working) come first. Steps are read through
fleet.model.declarations, the same types the providers use; a change only counts
where it changes something.

What an apply does to a certificate depends on what AWS has when it runs: one
AWS has already is adopted, not registered; one it has revoked already is not
revoked again. The apply reads AWS for the certificates it converges
(``ShardInputs.work``); `fleet review` reads the same ones the same way
(``readings``, then fleet.model.observe) and passes what it found as ``observed``,
so review and apply decide from the same facts. Without it (`--no-aws`) the
review decides from the plan (the refreshed state, when the preview ran with
--refresh) and says so.

Lists longer than FOLD_AFTER are folded. The output depends only on its
inputs, sorted throughout, so the same plan always renders the same comment.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.aws.status import CaStatus, CertificateStatus
from fleet.manifest.groups import GroupName
from fleet.model.declarations import (
    ABSENT,
    CA_SPEC,
    CERTIFICATES_SPEC,
    INPUTS,
    JITR_SPEC,
    POLICY_SPEC,
    USABLE,
    CaPlacementInputs,
    Entry,
    GroupInputs,
    JitrInputs,
    PolicyInputs,
    ShardInputs,
    Stored,
)

FOLD_AFTER = 5
# GitHub refuses comments over 65,536 characters: past this many, a list says how many more.
LIST_AT_MOST = 100
# Lets the pull-request workflow find and update its own comment (one per stack when sharded).
MARKER = "<!-- fleet-review -->"
STACK_KIND = "fleet:Stack"  # fleet.providers.stack_scope: the places a sharded stack leaves to others
HANDED_OVER = "handed over to stack `{}`: this stack forgets its resources here; nothing is deleted in AWS"


def marker(stack: str | None = None) -> str:
    return f"<!-- fleet-review:{stack} -->" if stack else MARKER


ACTIONS = ("registered", "adopted", "activated", "deactivated", "revoked", "deleted", "attached", "detached")
VERBS: dict[str, str] = {
    CertificateStatus.ACTIVE: "activated",
    CertificateStatus.INACTIVE: "deactivated",
    CertificateStatus.REVOKED: "revoked",
}
RECORDS = "registered REVOKED (the record AWS keeps of a revocation)"
ADOPTED = "adopted (AWS has them already: not registered again)"
ADOPTED_CA = "adopted (AWS has it already: not registered again)"
NOT_READ = (
    "<sub>AWS was not read for this review (`--no-aws`, or it could not be): a certificate or CA AWS "
    "has already is adopted rather than registered, and a certificate it has revoked already is not "
    "revoked again.</sub>"
)
# (CA id, account id, region) -> the placement as AWS has it (fleet.model.observe.ca), None: AWS has no such CA
CasNow = Mapping[tuple[str, str, str], CaPlacementInputs | None]
# (account id, region) -> fingerprint -> what AWS has now, against its group (fleet.model.observe)
Observed = Mapping[tuple[str, str], Mapping[str, Entry]]


class PlanError(ValueError):
    """The file is not the JSON `pulumi preview --json` writes."""


@dataclass
class Changes:
    """The planned changes in one account and region."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lines: list[tuple[str, list[str]]] = field(default_factory=list)  # (what, the objects it concerns)


@dataclass
class Plan:
    places: dict[tuple[str, str], Changes] = field(default_factory=lambda: defaultdict(Changes))
    irreversible: list[str] = field(default_factory=list)
    replacements: list[str] = field(default_factory=list)
    blast_radius: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ledger: list[str] = field(default_factory=list)  # changes to the revocation ledger: first of all
    labels: dict[str, str] = field(default_factory=dict)  # fingerprint -> its PEM file in the manifests
    expiring: dict[str, str] = field(default_factory=dict)  # certificate id -> "expires on D" (within 30 days)
    # Certificates the change registers or changes while usable, and CAs it registers or changes: (id, name, place).
    touched: set[tuple[str, str, str]] = field(default_factory=set)
    audit: list[tuple[bool, str]] = field(default_factory=list)  # (high or critical, line): findings the change adds
    # Certificate changes, summed over the resources (shards) of each account and region:
    # (account, region, group, verb) -> certificates; (account, region, group, policy) -> how many.
    certificates: dict[tuple[str, str, str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    attached: dict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    detached: dict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    observed: Observed | None = None  # what AWS has now of the certificates the apply converges; None: not read
    claimed: set[tuple[str, str, str]] = field(default_factory=set)  # (account id, region, fp) the plan declares
    cas_now: CasNow | None = None  # the CA placements the plan creates, as AWS has them; None: not read
    told_from_plan: bool = False  # something said depends on what AWS has, which was not read

    def label(self, fp: str) -> str:
        known = self.labels.get(fp)
        return f"`{fp[:16]}…` {known}" if known else f"`{fp[:16]}…`"


@dataclass(frozen=True)
class Step:
    op: str
    kind: str  # the resource type token, e.g. fleet:CaPlacement
    old: Any  # the recorded declaration (typed), or None
    new: Any  # the planned declaration (typed), or None


def render(
    text: str,
    ledger_changes: list[str] | None = None,
    labels: dict[str, str] | None = None,
    active_now: dict[tuple[str, str, str], int] | None = None,
    stack: str | None = None,
    audit: list[tuple[bool, str]] | None = None,
    observed: Observed | None = None,
    cas_now: CasNow | None = None,
    expiring: dict[str, str] | None = None,
) -> str:
    """``labels``: fingerprint -> how the manifests name it (its PEM file), when they are at hand.
    ``active_now``: (CA id, account id, region) -> certificates ACTIVE under the CA in AWS now
    (declared or not), for each CA the plan deactivates (`fleet review` counts them when it can
    read AWS); without it the count is the plan's own. ``stack``: named in the heading and the
    marker, for a fleet run as several stacks. ``audit``: (high or critical, Markdown line) of each `fleet audit`
    finding the change introduces: at the top when one is high or critical, else after the changes.
    ``observed``: what AWS has now of the certificates of ``readings`` (the module says why),
    ``cas_now`` of the CA placements of ``created_cas``; None: AWS was not read. ``expiring``:
    certificate id (device or CA) -> when it expires, for those of the manifests that expire within
    30 days: the ones the change registers or changes are named."""
    preview, raw_steps, steps = _parse(text)
    plan = Plan(
        errors=[d["message"].strip() for d in preview.get("diagnostics", []) if d.get("severity") == "error"],
        ledger=list(ledger_changes or []),
        labels=dict(labels or {}),
        audit=list(audit or []),
        observed=observed,
        claimed=_claimed(steps),
        cas_now=cas_now,
        expiring=dict(expiring or {}),
    )
    active_after = _active_after(steps, active_now or {})
    handed_over = _handed_over(raw_steps)
    for step in sorted(steps, key=lambda s: (s.kind, _name(s))):
        if not _changes(step):
            continue
        if step.op == "delete" and step.old is not None and step.old.place in handed_over:
            what = HANDED_OVER.format(handed_over[step.old.place])
            place = plan.places[(step.old.account, step.old.region)]
            if (what, []) not in place.lines:
                place.lines.append((what, []))
            continue
        if step.op == "replace":
            _replace(step, plan)
        declared = step.new or step.old
        place = plan.places[(declared.account, declared.region)]
        if step.kind == CA_SPEC.token:
            _ca(step, place, plan, active_after)
        elif step.kind == CERTIFICATES_SPEC.token:
            _shard(step, plan)
        elif step.kind == JITR_SPEC.token:
            _jitr(step, place)
        else:
            _policy(step, place)
    _certificate_lines(plan)
    return _markdown(plan, preview.get("changeSummary") or {}, stack)


@functools.lru_cache(maxsize=1)  # `fleet review` asks four times of one plan (large at scale); none changes it
def _parse(text: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[Step]]:
    """The preview, its raw steps, and those of fleet's kinds, typed."""
    try:
        preview = json.loads(text)
        raw_steps = preview["steps"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise PlanError(f"not the output of `pulumi preview --json` ({error})") from None
    try:
        steps = [s for s in (_step(raw) for raw in raw_steps) if s is not None]
    except (KeyError, TypeError, ValueError) as error:  # a hand-edited plan
        raise PlanError(f"a step of the plan is not of the shape `pulumi preview --json` writes ({error})") from None
    return preview, raw_steps, steps


def _changes(step: Step) -> bool:
    """A replacement shows once, as its "replace" step."""
    return step.op not in ("same", "read", "refresh", "create-replacement", "delete-replaced")


@dataclass(frozen=True)
class Reading:
    """Certificates of one account and region whose fate depends on what AWS has when the
    plan is applied: those the apply converges or retires there, each with the group it is
    judged by (``ShardInputs.work``)."""

    account_id: str
    region: str
    role_arn: str
    where: str
    policies: tuple[str, ...]  # every fleet policy there
    wanted: dict[str, GroupInputs]
    held: int  # how many certificates the place holds, as far as the plan tells


def readings(text: str) -> list[Reading]:
    """What `fleet review` reads in AWS before rendering ``text`` (fleet.model.observe.certificates
    gives ``observed``); PlanError when ``text`` is not a plan."""
    _preview, raw_steps, steps = _parse(text)
    handed_over, claimed = _handed_over(raw_steps), _claimed(steps)
    wanted: dict[tuple[str, str], dict[str, GroupInputs]] = defaultdict(dict)
    shards: dict[tuple[str, str], ShardInputs] = {}
    held: dict[tuple[str, str], int] = defaultdict(int)
    for step in steps:
        if step.kind != CERTIFICATES_SPEC.token or not _changes(step):
            continue
        if step.op == "delete" and step.old.place in handed_over:
            continue
        todo, removed = _work(step, claimed)
        for shard, fingerprints in ((step.old, removed), (step.new, todo)):
            if shard is None:
                continue
            declared = shard.declared()
            wanted[shard.place].update({fp: declared[fp][1] for fp in fingerprints})
            shards.setdefault(shard.place, shard)
            # Shards are even slices of the fingerprints.
            held[shard.place] = max(held[shard.place], 16 * max(len(declared), len(fingerprints)))
    return [
        Reading(*place, shards[place].role_arn, shards[place].where, shards[place].policies, wanted[place], held[place])
        for place in sorted(wanted)
        if wanted[place]
    ]


def _claimed(steps: list[Step]) -> set[tuple[str, str, str]]:
    """(account id, region, fingerprint) of every certificate the plan declares."""
    return {
        (*step.new.place, fp)
        for step in steps
        if step.kind == CERTIFICATES_SPEC.token
        and step.new is not None
        and step.op not in ("delete", "delete-replaced")
        for fp in step.new.declared()
    }


def _work(step: Step, claimed: set[tuple[str, str, str]]) -> tuple[set[str], set[str]]:
    """(the certificates the apply converges, those it retires), as the provider decides:
    an update converges what changed (``ShardInputs.work``); a created or replacing shard
    all it declares; a deleted or replaced one retires what it owned that no resource of the
    run declares there (a renamed account's certificates stay: fleet.providers.registry)."""
    old: ShardInputs | None = step.old
    new: ShardInputs | None = step.new
    if step.op == "update" and new is not None:
        return new.work(old)
    todo = set(new.declared()) if new is not None else set()
    owned = {fp for fp, (_, group) in old.declared().items() if old.owns(group)} if old is not None else set()
    return todo, {fp for fp in owned if old is not None and (*old.place, fp) not in claimed}


def _handed_over(raw_steps: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(account id, region) -> the stack the plan's stack leaves that place to."""
    for raw in raw_steps:
        # A refreshed plan (options.refresh: always) first lists what the refresh read: the old scope.
        if _kind(raw) != STACK_KIND or raw.get("op") in ("refresh", "read"):
            continue
        state = (raw.get("newState") or {}).get("inputs") or (raw.get("oldState") or {}).get("outputs") or {}
        others = state.get("others") if isinstance(state, dict) else None
        if not isinstance(others, dict):
            return {}  # not the shape fleet.providers.stack_scope writes: nothing handed over
        return {(key.split("/")[0], key.split("/")[-1]): str(stack) for key, stack in others.items()}
    return {}


def _kind(raw: dict[str, Any]) -> str:
    """urn:pulumi:STACK::PROJECT::pulumi-python:dynamic/fleet:CaPlacement::NAME -> fleet:CaPlacement"""
    return str(raw["urn"].split("::")[-2].split("/")[-1])


def _step(raw: dict[str, Any]) -> Step | None:
    kind = _kind(raw)
    inputs = INPUTS.get(kind)
    if inputs is None:
        return None
    old_props = (raw.get("oldState") or {}).get("outputs") or None
    new_props = (raw.get("newState") or {}).get("inputs") or None
    if raw["op"] in ("delete", "delete-replaced"):
        new_props = None
    step = Step(
        raw["op"], kind, inputs.of(old_props) if old_props else None, inputs.of(new_props) if new_props else None
    )
    for shard in (step.old, step.new):
        if isinstance(shard, ShardInputs):  # each certificate's entry read now: TypeError on a hand-edited one
            for value in [
                *shard.unlisted.values(),
                *(v for g in shard.groups.values() for v in g.certificates.values()),
            ]:
                Entry.read(value)
    return step


def _name(step: Step) -> str:
    return str((step.new or step.old).resource_name)


def created_cas(text: str) -> list[CaPlacementInputs]:
    """The CA placements the plan creates: the provider adopts each one AWS has already."""
    _preview, _raw, steps = _parse(text)
    return sorted(
        (s.new for s in steps if s.kind == CA_SPEC.token and s.op == "create" and s.new is not None),
        key=lambda ca: (ca.certificate_id, *ca.place),
    )


def deactivated_cas(text: str) -> list[tuple[str, str, str, str]]:
    """(CA id, account id, region, role ARN) of each CA placement the plan deactivates."""
    _preview, _raw, steps = _parse(text)
    return sorted(
        {
            (s.new.certificate_id, *s.new.place, s.new.role_arn)
            for s in steps
            if s.kind == CA_SPEC.token
            and s.old is not None
            and s.new is not None
            and s.old.status == CaStatus.ACTIVE
            and s.new.status == CaStatus.INACTIVE
        }
    )


def _active_after(steps: list[Step], active_now: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], int]:
    """(CA id, account id, region) -> certificates ACTIVE under the CA once the plan is
    applied: AWS's count now when given, else what the plan declares ACTIVE under it
    (certificate resources the plan leaves unchanged are not in it), moved by what the
    plan activates or takes out of ACTIVE under it."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int, active_now)
    for step in steps:
        if step.kind != CERTIFICATES_SPEC.token:
            continue
        before = step.old.declared() if step.old is not None else {}
        after = step.new.declared() if step.new is not None else {}
        for fp in set(before) | set(after):
            was = Entry.read(before[fp][0]).status == CertificateStatus.ACTIVE if fp in before else False
            will = fp in after and after[fp][0] == CertificateStatus.ACTIVE
            group = (after.get(fp) or before[fp])[1]
            shard = step.new or step.old
            key = (str(group.ca_id), *shard.place)
            if not group.ca_id:
                continue
            if key not in active_now:
                counts[key] += 1 if will else 0  # counted from the plan: what it leaves ACTIVE
            elif was != will:
                counts[key] += 1 if will else -1
    return counts


def _replace(step: Step, plan: Plan) -> None:
    """Another AWS object instead of this one: deleted, then made again."""
    old, new = step.old.props() if step.old else {}, step.new.props() if step.new else {}
    spec = {
        CA_SPEC.token: CA_SPEC,
        POLICY_SPEC.token: POLICY_SPEC,
        CERTIFICATES_SPEC.token: CERTIFICATES_SPEC,
        JITR_SPEC.token: JITR_SPEC,
    }[step.kind]
    keys = spec.replaces(old, new)
    declared = step.new or step.old
    plan.replacements.append(
        f"`{declared.resource_name}` in {declared.account}/{declared.region} is deleted and "
        f"made again ({', '.join(keys) or 'replaced'} changed)"
    )


def _ca(step: Step, place: Changes, plan: Plan, active_after: dict[tuple[str, str, str], int]) -> None:
    old: CaPlacementInputs | None = step.old
    new: CaPlacementInputs | None = step.new
    name = f"CA `{(new or old).ca}`"  # type: ignore[union-attr]
    if new is not None and (
        old is None
        or (old.status, old.auto_registration, _config(old.registration_config))
        != (new.status, new.auto_registration, _config(new.registration_config))
    ):
        plan.touched.add((new.certificate_id, name, f"{new.account}/{new.region}"))
    if step.op == "create" and new is not None:
        # As the provider's create: adopt what AWS has (then converge it), else register.
        old = plan.cas_now.get((new.certificate_id, *new.place)) if plan.cas_now is not None else None
        plan.told_from_plan |= plan.cas_now is None
        if old is None:
            place.lines.append(
                (f"{name}: registered ({new.mode}), {new.status}, auto-registration {new.auto_registration}", [])
            )
            return
        if old.mode != new.mode:
            place.lines.append(
                (
                    f"{name}: registered in AWS already in mode {old.mode}, declared {new.mode}: the "
                    "apply stops there (deregister it first, or change the manifest)",
                    [],
                )
            )
            return
        place.lines.append((f"{name}: {ADOPTED_CA}", []))
    if new is None or old is None:
        place.lines.append((f"{name}: deactivated and deleted", []))
        return
    if old.status != new.status:
        verb = "activated" if new.status == CaStatus.ACTIVE else "deactivated"
        place.lines.append((f"{name}: {old.status} → {new.status} ({verb})", []))
        if new.status == CaStatus.INACTIVE:
            left = active_after.get((new.certificate_id, *new.place), 0)
            plan.blast_radius.append(
                f"Deactivating {name} in {new.account}/{new.region} stops new registrations only: "
                f"**{left} ACTIVE certificate{'s' if left != 1 else ''}** it signed "
                f"{'keep' if left != 1 else 'keeps'} working until each is revoked "
                "(`fleet revoke-ca` writes that change)."
            )
    if old.auto_registration != new.auto_registration:
        place.lines.append((f"{name}: auto-registration {old.auto_registration} → {new.auto_registration}", []))
    if _config(old.registration_config) != _config(new.registration_config):
        place.lines.append(
            (f"{name}: registration config {_config(old.registration_config)} → {_config(new.registration_config)}", [])
        )


def _config(config: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()) if v) or "none"


@dataclass(frozen=True)
class Now:
    """What AWS has of a certificate when the plan is applied, as far as the review knows."""

    status: str  # ABSENT: AWS does not have it
    attached: frozenset[str] = frozenset()  # the fleet policies attached to it
    thingless: bool = True  # attached to no thing (unknown: True, as the apply then looks)


def _now(
    fp: str,
    judged_by: GroupInputs,
    before: Mapping[str, tuple[Stored, GroupInputs]],
    unlisted: Mapping[str, Stored],
    seen: Mapping[str, Entry] | None,
) -> Now:
    """From AWS when it was read (``seen``: entries against ``judged_by``); else from the
    plan: the state (refreshed, under --refresh), or what a refresh listed as undeclared."""
    if seen is not None:
        return _from_entry(seen.get(fp, Entry(ABSENT)), judged_by)
    if fp in before:
        return _from_entry(Entry.read(before[fp][0]), before[fp][1])
    if fp in unlisted:
        entry = Entry.read(unlisted[fp])
        return Now(entry.status, frozenset(entry.extra))
    return Now(ABSENT)


def _from_entry(entry: Entry, group: GroupInputs) -> Now:
    if entry.status not in USABLE:  # a read reports no policies of those
        return Now(entry.status)
    return Now(entry.status, frozenset((set(group.policies) - set(entry.missing)) | set(entry.extra)), entry.thingless)


def _shard(step: Step, plan: Plan) -> None:
    """What converging the shard does (fleet.providers.device_certificates, Converge), told
    from what AWS has now: register what it lacks (the rest is adopted), set what differs."""
    old: ShardInputs | None = step.old
    new: ShardInputs | None = step.new
    before = old.declared() if old is not None else {}
    after = new.declared() if new is not None else {}
    unlisted = old.unlisted if old is not None else {}
    todo, removed = _work(step, plan.claimed)
    plan.told_from_plan |= plan.observed is None and bool(todo or removed)
    if old is not None:
        seen = _seen(plan, old)
        for fp in sorted(removed):
            if _now(fp, before[fp][1], before, unlisted, seen).status in USABLE:  # a revoked one stays: its record
                plan.certificates[(old.account, old.region, _group(old, before[fp][1]), "deleted")].append(
                    plan.label(fp)
                )
    if new is None:
        return
    seen = _seen(plan, new)
    if old is not None and old.place != new.place:  # replaced in another account or region: nothing known there
        before, unlisted = {}, {}
    account, region = new.account, new.region
    for fp in sorted(todo):
        stored, group = after[fp]
        status = Entry.read(stored).status  # a plan's new inputs: the declared status
        name, label = _group(new, group), plan.label(fp)
        if status in USABLE:  # the apply converges it: registered, or its status, policies or thing changed
            plan.touched.add((fp, label, f"{account}/{region}"))
        now = _now(fp, group, before, unlisted, seen)
        if now.status == ABSENT:
            plan.certificates[(account, region, name, "registered" if status in USABLE else RECORDS)].append(label)
        elif fp not in before:
            plan.certificates[(account, region, name, ADOPTED)].append(label)
        if now.status not in (ABSENT, CertificateStatus.REVOKED, status) and status in VERBS:
            # PENDING_ACTIVATION -> ACTIVE reads "activated"; REVOKED -> usable is refused at preview.
            plan.certificates[(account, region, name, VERBS[status])].append(label)
        if status not in USABLE:
            continue
        have = now.attached if now.status in USABLE else frozenset()
        for policy in sorted(set(group.policies) - have):
            plan.attached[(account, region, name, policy)] += 1
        for policy in sorted(have - set(group.policies)):
            plan.detached[(account, region, name, policy)] += 1
        may_lack = fp not in before or before[fp][1].state() != group.state() or Entry.read(before[fp][0]).thingless
        if group.things == "common-name" and (now.status == ABSENT or (may_lack and now.thingless)):
            plan.certificates[(account, region, name, "attached to the thing named by their common name")].append(label)
    for text in unlisted.values() if step.op == "update" else ():  # a created shard has nothing listed yet
        for policy in Entry.read(text).extra:
            plan.detached[(account, region, "not in the manifests", policy)] += 1


def _seen(plan: Plan, shard: ShardInputs) -> Mapping[str, Entry] | None:
    return plan.observed.get(shard.place, {}) if plan.observed is not None else None


def _certificate_lines(plan: Plan) -> None:
    for (account, region, group, verb), labels in sorted(plan.certificates.items()):
        place = plan.places[(account, region)]
        column = {RECORDS: "registered", ADOPTED: "adopted"}.get(verb, verb)
        if column in ACTIONS:
            place.counts[column] += len(labels)
        place.lines.append((f"group `{group}`: {len(labels)} certificate(s) {verb}", sorted(labels)))
        if verb == "revoked":
            plan.irreversible.extend(
                f"revoke {label} (group `{group}`) in {account}/{region}" for label in sorted(labels)
            )
    for action, counted in (("attached", plan.attached), ("detached", plan.detached)):
        for (account, region, group, policy), count in sorted(counted.items()):
            place = plan.places[(account, region)]
            place.counts[action] += count
            where = "to" if action == "attached" else "from"
            place.lines.append((f"group `{group}`: policy `{policy}` {action} {where} {count} certificate(s)", []))


def _group(shard: ShardInputs | None, group: GroupInputs) -> str:
    assert shard is not None
    return GroupName.parse(next(name for name, g in shard.groups.items() if g is group)).label


def _jitr(step: Step, place: Changes) -> None:
    """The just-in-time activation of a place (fleet.providers.jitr): deployed, changed, or removed."""
    old: JitrInputs | None = step.old
    new: JitrInputs | None = step.new
    name = "just-in-time activation (function `fleet-jitr`)"
    if step.op == "create" and new is not None:
        place.lines.append((f"{name}: deployed, invoked by the rules", [f"`{rule}`" for rule in sorted(new.rules)]))
    elif new is None:
        place.lines.append((f"{name}: removed, with its role and rules", []))
    elif old is not None:
        if old.function.get("code_sha256") != new.function.get("code_sha256"):
            place.lines.append(
                (
                    f"{name}: new package (its code, or its configuration: the revocation ledger, "
                    "revocation lists, policies)",
                    [],
                )
            )
        changed = [part for part in ("role", "permissions", "rules") if getattr(old, part) != getattr(new, part)]
        if changed or {k: v for k, v in old.function.items() if k != "code_sha256"} != {
            k: v for k, v in new.function.items() if k != "code_sha256"
        }:
            place.lines.append((f"{name}: put back as declared", [f"`{part}`" for part in changed or ["function"]]))


def _policy(step: Step, place: Changes) -> None:
    old: PolicyInputs | None = step.old
    new: PolicyInputs | None = step.new
    name = f"policy `{(new or old).policy}`"  # type: ignore[union-attr]
    if step.op == "create":
        place.lines.append((f"{name}: created", []))
    elif new is None:
        place.lines.append((f"{name}: deleted", []))
    elif old is not None:
        if old.document != new.document:
            place.lines.append((f"{name}: new default version (document changed)", []))
        if old.versions_made_by_hand:
            place.lines.append(
                (f"{name}: versions besides the default removed", [f"`{v}`" for v in old.versions_made_by_hand])
            )
        if old.other_principals:
            place.counts["detached"] += len(old.other_principals)
            place.lines.append(
                (f"{name}: detached from principals fleet does not declare", [f"`{t}`" for t in old.other_principals])
            )


def _markdown(plan: Plan, summary: dict[str, int], stack: str | None) -> str:
    out = [marker(stack), f"## fleet: planned changes to stack `{stack}`" if stack else "## fleet: planned changes", ""]
    if plan.ledger:
        out += [
            "> [!CAUTION]",
            "> **This change removes or alters entries of the revocation ledger, which only "
            "grows. It is refused; a revoked certificate stays revoked whatever the ledger says now:**",
        ]
        out += _folded([f"> - {line}" for line in plan.ledger], "entries", indent="> ")
        out.append("")
    serious = any(high for high, _ in plan.audit)
    if serious:
        out += [
            "> [!CAUTION]",
            f"> **`fleet audit`: this change introduces {len(plan.audit)} finding(s), high or critical among them:**",
        ]
        out += _folded([f"> - {line}" for _, line in plan.audit], "findings", indent="> ")
        out.append("")
    if plan.errors:
        out += ["> [!CAUTION]", "> **The preview failed; nothing will be applied until this is fixed:**"]
        out += [f"> {line}" for error in plan.errors for line in error.splitlines()]
        out.append("")
    if plan.irreversible:
        out += [
            "> [!WARNING]",
            f"> **Irreversible: {len(plan.irreversible)} revocation(s).** A revoked "
            "certificate can never be activated again.",
        ]
        out += _folded([f"> - {line}" for line in plan.irreversible], "revocations", indent="> ")
        out.append("")
    if plan.replacements:
        out += [
            "> [!WARNING]",
            "> **Replaced (deleted, then made again):**",
            *(f"> - {r}" for r in plan.replacements),
            "",
        ]
    if plan.blast_radius:
        out += ["> [!IMPORTANT]", *(f"> {line}" for line in plan.blast_radius), ""]
    expiring = sorted(
        f"> - {name} in {place} {plan.expiring[cid]}" for cid, name, place in plan.touched if cid in plan.expiring
    )
    if expiring:
        out += [
            "> [!WARNING]",
            f"> **Expiring within 30 days: {len(expiring)} certificate(s) this change "
            "registers or changes** (`fleet expiry` lists them all):",
        ]
        out += _folded(expiring, "certificates", indent="> ")
        out.append("")
    changed = {key: place for key, place in plan.places.items() if place.lines}
    later = (
        []
        if serious or not plan.audit
        else [
            f"`fleet audit`: this change introduces {len(plan.audit)} finding(s):",
            "",
            *_folded([f"- {line}" for _, line in plan.audit], "findings"),
            "",
        ]
    )
    if not changed:
        out += ["No changes to AWS." if not plan.replacements else "Nothing else changes.", "", *later]
        return "\n".join(out)
    out += [
        "Per account and region:",
        "",
        "| account | region | " + " | ".join(ACTIONS) + " |",
        "|---|---|" + "---:|" * len(ACTIONS),
    ]
    for (account, region), place in sorted(changed.items()):
        out.append(f"| {account} | {region} | " + " | ".join(str(place.counts[a]) for a in ACTIONS) + " |")
    out.append("")
    for (account, region), place in sorted(changed.items()):
        out += [f"### {account} / {region}", ""]
        for what, items in place.lines:
            out.append(f"- {what}")
            out += _folded([f"  - {item}" for item in items], "items", indent="  ")
        out.append("")
    out += later
    counts = ", ".join(f"{n} to {op}" for op, n in sorted(summary.items()) if op != "same")
    if plan.told_from_plan:
        out += [NOT_READ, ""]
    out += [f"<sub>Pulumi resources: {counts or 'none changed'}.</sub>", ""]
    return "\n".join(out)


def _folded(lines: list[str], noun: str, indent: str = "") -> list[str]:
    """Lines past FOLD_AFTER go inside a <details> block (indented to stay in its list or quote);
    past LIST_AT_MOST, a count stands for the rest."""
    if len(lines) <= FOLD_AFTER:
        return lines
    if len(lines) > LIST_AT_MOST:
        indent_of_items = lines[0].split("- ", 1)[0]  # "  " in a list, "> " in a quote
        lines = [*lines[:LIST_AT_MOST], f"{indent_of_items}- and {len(lines) - LIST_AT_MOST} more"]
    return [
        f"{indent}<details><summary>{len(lines)} {noun}</summary>",
        indent.rstrip(),
        *lines,
        indent.rstrip(),
        f"{indent}</details>",
    ]
