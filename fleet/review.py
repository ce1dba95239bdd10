"""`fleet review`: a planned change (`pulumi preview --json`) as Markdown for a
pull-request comment.

Read per account and region: what is registered, activated, deactivated,
revoked, deleted, attached and detached. What cannot be undone (revocations)
and the blast radius of deactivating a CA (the active certificates it signed
keep working) come first. Steps are read through fleet.declarations, the
same types the providers use; a change only counts where it changes
something (a certificate already revoked is not revoked again). Lists longer
than FOLD_AFTER are folded. The output depends only on the plan, sorted
throughout, so the same plan always renders the same comment.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from fleet.declarations import (
    ABSENT,
    AUTO_GROUP,
    CA_SPEC,
    CERTIFICATES_SPEC,
    INPUTS,
    JITR_SPEC,
    LEDGER_GROUP,
    POLICY_SPEC,
    USABLE,
    CaPlacementInputs,
    Entry,
    GroupInputs,
    JitrInputs,
    PolicyInputs,
    ShardInputs,
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
ACTIONS = ("registered", "activated", "deactivated", "revoked", "deleted", "attached", "detached")
VERBS = {"ACTIVE": "activated", "INACTIVE": "deactivated", "REVOKED": "revoked"}
RECORDS = "registered REVOKED (the record AWS keeps of a revocation)"


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
    audit: list[tuple[bool, str]] = field(default_factory=list)  # (high or critical, line): findings the change adds
    # Certificate changes, summed over the resources (shards) of each account and region:
    # (account, region, group, verb) -> certificates; (account, region, group, policy) -> how many.
    certificates: dict[tuple[str, str, str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    attached: dict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    detached: dict[tuple[str, str, str, str], int] = field(default_factory=lambda: defaultdict(int))

    def label(self, fp: str) -> str:
        known = self.labels.get(fp)
        return f"`{fp[:16]}…` {known}" if known else f"`{fp[:16]}…`"


@dataclass(frozen=True)
class Step:
    op: str
    kind: str  # the resource type token, e.g. fleet:CaPlacement
    old: Any  # the recorded declaration (typed), or None
    new: Any  # the planned declaration (typed), or None


def render(text: str, ledger_changes: list[str] | None = None, labels: dict[str, str] | None = None,
           active_now: dict[tuple[str, str, str], int] | None = None, stack: str | None = None,
           audit: list[tuple[bool, str]] | None = None) -> str:
    """``labels``: fingerprint -> how the manifests name it (its PEM file), when they are at hand.
    ``active_now``: (CA id, account id, region) -> certificates ACTIVE under the CA in AWS now
    (declared or not), for each CA the plan deactivates (`fleet review` counts them when it can
    read AWS); without it the count is the plan's own. ``stack``: named in the heading and the
    marker, for a fleet run as several stacks. ``audit``: (high or critical, Markdown line) of each `fleet audit`
    finding the change introduces: at the top when one is high or critical, else after the changes."""
    try:
        preview = json.loads(text)
        raw_steps = preview["steps"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise PlanError(f"not the output of `pulumi preview --json` ({error})") from None
    plan = Plan(errors=[d["message"].strip() for d in preview.get("diagnostics", []) if d.get("severity") == "error"],
                ledger=list(ledger_changes or []), labels=dict(labels or {}), audit=list(audit or []))
    try:
        steps = [s for s in (_step(raw) for raw in raw_steps) if s is not None]
    except (KeyError, TypeError, ValueError) as error:  # a hand-edited plan
        raise PlanError(f"a step of the plan is not of the shape `pulumi preview --json` writes ({error})") from None
    active_after = _active_after(steps, active_now or {})
    handed_over = _handed_over(raw_steps)
    for step in sorted(steps, key=lambda s: (s.kind, _name(s))):
        if step.op in ("same", "read", "refresh", "create-replacement", "delete-replaced"):
            continue  # a replacement shows once, as its "replace" step
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


def _handed_over(raw_steps: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(account id, region) -> the stack the plan's stack leaves that place to."""
    for raw in raw_steps:
        if _kind(raw) != STACK_KIND:
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
    return Step(raw["op"], kind, inputs.of(old_props) if old_props else None,
                inputs.of(new_props) if new_props else None)


def _name(step: Step) -> str:
    return str((step.new or step.old).resource_name)


def deactivated_cas(text: str) -> list[tuple[str, str, str, str]]:
    """(CA id, account id, region, role ARN) of each CA placement the plan deactivates."""
    steps = [s for s in (_step(raw) for raw in json.loads(text)["steps"]) if s is not None]
    return sorted({(s.new.certificate_id, *s.new.place, s.new.role_arn) for s in steps
                   if s.kind == CA_SPEC.token and s.old is not None and s.new is not None
                   and s.old.status == "ACTIVE" and s.new.status == "INACTIVE"})


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
            was = Entry.decode(before[fp][0]).status == "ACTIVE" if fp in before else False
            will = fp in after and after[fp][0] == "ACTIVE"
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
    spec = {CA_SPEC.token: CA_SPEC, POLICY_SPEC.token: POLICY_SPEC, CERTIFICATES_SPEC.token: CERTIFICATES_SPEC,
            JITR_SPEC.token: JITR_SPEC}[step.kind]
    keys = spec.replaces(old, new)
    declared = step.new or step.old
    plan.replacements.append(f"`{declared.resource_name}` in {declared.account}/{declared.region} is deleted and "
                             f"made again ({', '.join(keys) or 'replaced'} changed)")


def _ca(step: Step, place: Changes, plan: Plan, active_after: dict[tuple[str, str, str], int]) -> None:
    old: CaPlacementInputs | None = step.old
    new: CaPlacementInputs | None = step.new
    name = f"CA `{(new or old).ca}`"  # type: ignore[union-attr]
    if step.op == "create" and new is not None:
        place.lines.append((f"{name}: registered ({new.mode}), {new.status}, auto-registration "
                            f"{new.auto_registration}", []))
        return
    if new is None or old is None:
        place.lines.append((f"{name}: deactivated and deleted", []))
        return
    if old.status != new.status:
        verb = "activated" if new.status == "ACTIVE" else "deactivated"
        place.lines.append((f"{name}: {old.status} → {new.status} ({verb})", []))
        if new.status == "INACTIVE":
            left = active_after.get((new.certificate_id, *new.place), 0)
            plan.blast_radius.append(
                f"Deactivating {name} in {new.account}/{new.region} stops new registrations only: "
                f"**{left} ACTIVE certificate{'s' if left != 1 else ''}** it signed "
                f"{'keep' if left != 1 else 'keeps'} working until each is revoked "
                "(`fleet revoke-ca` writes that change).")
    if old.auto_registration != new.auto_registration:
        place.lines.append((f"{name}: auto-registration {old.auto_registration} → {new.auto_registration}", []))
    if _config(old.registration_config) != _config(new.registration_config):
        place.lines.append((f"{name}: registration config {_config(old.registration_config)} → "
                            f"{_config(new.registration_config)}", []))


def _config(config: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()) if v) or "none"


def _shard(step: Step, plan: Plan) -> None:
    old: ShardInputs | None = step.old
    new: ShardInputs | None = step.new
    before = old.declared() if old is not None else {}
    after = new.declared() if new is not None else {}
    account, region = (new or old).account, (new or old).region  # type: ignore[union-attr]
    for fp in sorted(set(before) | set(after)):
        had = Entry.decode(before[fp][0]) if fp in before else Entry(ABSENT)
        label = plan.label(fp)
        if fp not in after:
            if had.status in USABLE and _owned(old, before[fp][1]):
                plan.certificates[(account, region, _group(old, before[fp][1]), "deleted")].append(label)
            continue
        status, group = after[fp]
        name = _group(new, group)
        if had.status == ABSENT:
            plan.certificates[(account, region, name, "registered" if status in USABLE else RECORDS)].append(label)
        elif had.status != status and had.status != "REVOKED" and status in VERBS:
            # PENDING_ACTIVATION -> ACTIVE reads "activated"; a revocation only where it changes something.
            plan.certificates[(account, region, name, VERBS[status])].append(label)
        if status not in USABLE:
            continue
        have: set[str] = set()
        if had.status in USABLE:
            have = (set(before[fp][1].policies) - set(had.missing)) | set(had.extra)
        for policy in sorted(set(group.policies) - have):
            plan.attached[(account, region, name, policy)] += 1
        for policy in sorted(have - set(group.policies)):
            plan.detached[(account, region, name, policy)] += 1
        if group.things == "common-name" and (had.status == ABSENT or had.thingless
                                              or before[fp][1].things != "common-name"):
            plan.certificates[(account, region, name, "attached to the thing named by their common name")].append(
                label)
    for text in (old.unlisted if old is not None else {}).values():
        for policy in Entry.decode(text).extra:
            plan.detached[(account, region, "not in the manifests", policy)] += 1


def _certificate_lines(plan: Plan) -> None:
    for (account, region, group, verb), labels in sorted(plan.certificates.items()):
        place = plan.places[(account, region)]
        if verb in ACTIONS or verb == RECORDS:
            place.counts["registered" if verb == RECORDS else verb] += len(labels)
        place.lines.append((f"group `{group}`: {len(labels)} certificate(s) {verb}", sorted(labels)))
        if verb == "revoked":
            plan.irreversible.extend(f"revoke {label} (group `{group}`) in {account}/{region}"
                                     for label in sorted(labels))
    for action, counted in (("attached", plan.attached), ("detached", plan.detached)):
        for (account, region, group, policy), count in sorted(counted.items()):
            place = plan.places[(account, region)]
            place.counts[action] += count
            where = "to" if action == "attached" else "from"
            place.lines.append((f"group `{group}`: policy `{policy}` {action} {where} {count} certificate(s)", []))


def _group(shard: ShardInputs | None, group: GroupInputs) -> str:
    assert shard is not None
    name = next(name for name, g in shard.groups.items() if g is group)
    if name == LEDGER_GROUP:
        return "revocation ledger"
    if name.startswith(AUTO_GROUP):
        return f"auto_activation under {name.removeprefix(AUTO_GROUP)}"
    return name


def _owned(shard: ShardInputs | None, group: GroupInputs) -> bool:
    name = _group(shard, group)
    return name != "revocation ledger" and not name.startswith("auto_activation")


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
            place.lines.append((f"{name}: new package (its code, or its configuration: the revocation ledger, "
                                "revocation lists, policies)", []))
        changed = [part for part in ("role", "permissions", "rules") if getattr(old, part) != getattr(new, part)]
        if changed or {k: v for k, v in old.function.items() if k != "code_sha256"} != {
                k: v for k, v in new.function.items() if k != "code_sha256"}:
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
            place.lines.append((f"{name}: versions besides the default removed",
                                [f"`{v}`" for v in old.versions_made_by_hand]))
        if old.other_principals:
            place.counts["detached"] += len(old.other_principals)
            place.lines.append((f"{name}: detached from principals fleet does not declare",
                                [f"`{t}`" for t in old.other_principals]))


def _markdown(plan: Plan, summary: dict[str, int], stack: str | None) -> str:
    out = [marker(stack), f"## fleet: planned changes to stack `{stack}`" if stack else "## fleet: planned changes",
           ""]
    if plan.ledger:
        out += ["> [!CAUTION]", "> **This change removes or alters entries of the revocation ledger, which only "
                "grows. It is refused; a revoked certificate stays revoked whatever the ledger says now:**"]
        out += _folded([f"> - {line}" for line in plan.ledger], "entries", indent="> ")
        out.append("")
    serious = any(high for high, _ in plan.audit)
    if serious:
        out += ["> [!CAUTION]", f"> **`fleet audit`: this change introduces {len(plan.audit)} finding(s), high or "
                "critical among them:**"]
        out += _folded([f"> - {line}" for _, line in plan.audit], "findings", indent="> ")
        out.append("")
    if plan.errors:
        out += ["> [!CAUTION]", "> **The preview failed; nothing will be applied until this is fixed:**"]
        out += [f"> {line}" for error in plan.errors for line in error.splitlines()]
        out.append("")
    if plan.irreversible:
        out += ["> [!WARNING]", f"> **Irreversible: {len(plan.irreversible)} revocation(s).** A revoked "
                "certificate can never be activated again."]
        out += _folded([f"> - {line}" for line in plan.irreversible], "revocations", indent="> ")
        out.append("")
    if plan.replacements:
        out += ["> [!WARNING]", "> **Replaced (deleted, then made again):**", *(f"> - {r}" for r in plan.replacements),
                ""]
    if plan.blast_radius:
        out += ["> [!IMPORTANT]", *(f"> {line}" for line in plan.blast_radius), ""]
    changed = {key: place for key, place in plan.places.items() if place.lines}
    later = [] if serious or not plan.audit else [
        f"`fleet audit`: this change introduces {len(plan.audit)} finding(s):", "",
        *_folded([f"- {line}" for _, line in plan.audit], "findings"), ""]
    if not changed:
        out += ["No changes to AWS." if not plan.replacements else "Nothing else changes.", "", *later]
        return "\n".join(out)
    out += ["Per account and region:", "",
            "| account | region | " + " | ".join(ACTIONS) + " |", "|---|---|" + "---:|" * len(ACTIONS)]
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
    return [f"{indent}<details><summary>{len(lines)} {noun}</summary>", indent.rstrip(), *lines, indent.rstrip(),
            f"{indent}</details>"]
