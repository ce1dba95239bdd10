"""`fleet review`: a planned change (`pulumi preview --json`) as Markdown for a
pull-request comment.

Read per account and region: what is registered, activated, deactivated,
revoked, deleted, attached and detached. What cannot be undone (revocations)
and the blast radius of deactivating a CA (the active certificates it signed
keep working) come first. Lists longer than FOLD_AFTER are folded. The output
depends only on the plan, sorted throughout, so the same plan always renders
the same comment. Drift is not listed here: against a branch's manifests it
is mostly the change itself; `fleet drift` reports it on the applied ones.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

FOLD_AFTER = 5
# GitHub refuses comments over 65,536 characters: past this many, a list says how many more.
LIST_AT_MOST = 100
# Lets the pull-request workflow find and update its own comment.
MARKER = "<!-- fleet-review -->"
REPLACED_BY = ("certificate_id", "mode", "account_id", "region", "policy")
ACTIONS = ("registered", "activated", "deactivated", "revoked", "deleted", "attached", "detached")
CA = "fleet:CaPlacement"
GROUP = "fleet:DeviceCertificates"
POLICY = "fleet:IotPolicy"


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


def render(text: str) -> str:
    try:
        preview = json.loads(text)
        steps = preview["steps"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise PlanError(f"not the output of `pulumi preview --json` ({error})") from None
    plan = Plan(errors=[d["message"].strip() for d in preview.get("diagnostics", []) if d.get("severity") == "error"])
    active_under = _active_certificates(steps)
    for step in sorted(steps, key=lambda s: (_kind(s), _name(s))):
        kind = _kind(step)
        if step["op"] in ("same", "read", "refresh", "create-replacement", "delete-replaced") \
                or kind not in (CA, GROUP, POLICY):
            continue  # a replacement shows once, as its "replace" step
        if step["op"] == "replace":
            _replace(step, plan)
        old = (step.get("oldState") or {}).get("outputs") or {}
        new = (step.get("newState") or {}).get("inputs") or {}
        props = new or old
        place = plan.places[(props["account"], props["region"])]
        if kind == CA:
            _ca(step["op"], old, new, place, plan, active_under)
        elif kind == GROUP:
            _group(step["op"], old, new, place, plan)
        else:
            _policy(step["op"], old, new, place)
    return _markdown(plan, preview.get("changeSummary") or {})


def _kind(step: dict[str, Any]) -> str:
    return str(step["urn"].split("::")[-2].split("/")[-1])


def _name(step: dict[str, Any]) -> str:
    return str(step["urn"].split("::")[-1])


def _active_certificates(steps: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    """(CA, account id, region) -> certificates the plan leaves ACTIVE under it."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    for step in steps:
        if _kind(step) != GROUP or step["op"] == "delete":
            continue
        new = (step.get("newState") or {}).get("inputs") or {}
        if new.get("ca"):
            key = (new["ca"], new["account_id"], new["region"])
            counts[key] += sum(1 for c in new["certificates"].values() if c["status"] == "ACTIVE")
    return counts


def _replace(step: dict[str, Any], plan: Plan) -> None:
    """Another AWS object instead of this one: deleted, then made again."""
    old = (step.get("oldState") or {}).get("outputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    what = {CA: f"CA `{new.get('ca')}`", GROUP: f"group `{new.get('group')}`", POLICY: f"policy `{new.get('policy')}`"}
    keys = sorted(k for k in set(old) | set(new) if k in REPLACED_BY and old.get(k) != new.get(k))
    plan.replacements.append(f"{what[_kind(step)]} in {new.get('account')}/{new.get('region')} is deleted and made "
                             f"again ({', '.join(keys) or 'replaced'} changed)")


def _ca(op: str, old: dict[str, Any], new: dict[str, Any], place: Changes, plan: Plan,
        active_under: dict[tuple[str, str, str], int]) -> None:
    name = f"CA `{(new or old)['ca']}`"
    if op == "create":
        place.lines.append((f"{name}: registered ({new['mode']}), {new['status']}, auto-registration "
                            f"{new['auto_registration']}", []))
        return
    if op in ("delete", "delete-replaced"):
        place.lines.append((f"{name}: deactivated and deleted", []))
        return
    if old.get("status") != new.get("status"):
        verb = "activated" if new["status"] == "ACTIVE" else "deactivated"
        place.lines.append((f"{name}: {old.get('status')} → {new['status']} ({verb})", []))
        if new["status"] == "INACTIVE":
            # Counted in AWS by the program's survey when it has it (manifests or not), else from the plan.
            counted = new.get("active_certificates")
            planned = active_under.get((new["ca"], new["account_id"], new["region"]), 0)
            left = counted if counted is not None else planned
            plan.blast_radius.append(
                f"Deactivating {name} in {new['account']}/{new['region']} stops new registrations only: "
                f"**{left} ACTIVE certificate{'s' if left != 1 else ''}** it signed "
                f"{'keep' if left != 1 else 'keeps'} working until each is revoked "
                "(`fleet revoke-ca` writes that change).")
    if old.get("auto_registration") != new.get("auto_registration"):
        place.lines.append((f"{name}: auto-registration {old.get('auto_registration')} → "
                            f"{new['auto_registration']}", []))
    if _config(old) != _config(new):
        place.lines.append((f"{name}: registration config {_config(old)} → {_config(new)}", []))
    if new.get("activate"):
        place.counts["activated"] += len(new["activate"])
        place.lines.append((f"{name}: activate pending just-in-time registrations (auto_activation)",
                            [f"`{c}`" for c in sorted(new["activate"])]))


def _config(props: dict[str, Any]) -> str:
    config = {k: v for k, v in sorted((props.get("registration_config") or {}).items()) if v}
    return ", ".join(f"{k}={v}" for k, v in config.items()) or "none"


def _group(op: str, old: dict[str, Any], new: dict[str, Any], place: Changes, plan: Plan) -> None:
    props = new or old
    name = f"group `{props['group']}`"
    before = {} if op == "create" else old.get("certificates", {})
    after = {} if op in ("delete", "delete-replaced") else new.get("certificates", {})
    changes: dict[str, list[str]] = defaultdict(list)
    for fingerprint in sorted(set(before) | set(after)):
        had, want = before.get(fingerprint), after.get(fingerprint)
        label = _certificate(fingerprint, want or had or {}, props)
        if want is None:
            changes["deleted" if had and had["status"] != "REVOKED" else "kept revoked"].append(label)
        elif had is None or had["status"] in ("ABSENT",):
            changes["registered"].append(label)
            if want["status"] == "REVOKED":
                changes["revoked"].append(label)
        elif had["status"] != want["status"]:
            verb = {"ACTIVE": "activated", "INACTIVE": "deactivated", "REVOKED": "revoked"}[want["status"]]
            changes[verb].append(label)
    for verb in ("registered", "activated", "deactivated", "revoked", "deleted", "kept revoked"):
        if changes[verb]:
            if verb in ACTIONS:
                place.counts[verb] += len(changes[verb])
            place.lines.append((f"{name}: {len(changes[verb])} certificate(s) {verb}", changes[verb]))
    for label in changes["revoked"]:
        plan.irreversible.append(f"revoke {label} in {props['account']}/{props['region']}")
    old_policies = set(old.get("policies", [])) if op != "create" else set()
    new_policies = set(new.get("policies", [])) if after or op != "delete" else set()
    usable = sum(1 for c in after.values() if c["status"] != "REVOKED")
    for policy in sorted(new_policies - old_policies):
        place.counts["attached"] += usable
        place.lines.append((f"{name}: policy `{policy}` attached to {usable} certificate(s)", []))
    for policy in sorted(old_policies - new_policies):
        place.counts["detached"] += len(before)
        place.lines.append((f"{name}: policy `{policy}` detached from its certificates", []))


def _certificate(fingerprint: str, record: dict[str, Any], props: dict[str, Any]) -> str:
    folder = props.get("folder") or ""
    path = f"{folder}/{record.get('file', '?')}" if folder else record.get("file", "?")
    return f"`{fingerprint[:16]}…` {path}"


def _policy(op: str, old: dict[str, Any], new: dict[str, Any], place: Changes) -> None:
    name = f"policy `{(new or old)['policy']}`"
    if op == "create":
        place.lines.append((f"{name}: created", []))
    elif op in ("delete", "delete-replaced"):
        place.lines.append((f"{name}: deleted", []))
    else:
        if old.get("document") != new.get("document"):
            place.lines.append((f"{name}: new default version (document changed)", []))
        if new.get("detach"):
            place.counts["detached"] += len(new["detach"])
            place.lines.append((f"{name}: detached where it was attached by hand",
                                [f"`{t}`" for t in sorted(new["detach"])]))


def _markdown(plan: Plan, summary: dict[str, int]) -> str:
    out = [MARKER, "## fleet: planned changes", ""]
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
    if not changed:
        out += ["No changes to AWS." if not plan.replacements else "Nothing else changes.", ""]
        return "\n".join(out)
    out += ["Device certificates, per account and region:", "",
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
