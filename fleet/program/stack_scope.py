"""Which accounts and regions a stack manages, when a fleet runs as several stacks.

A stack's configuration may limit it to some places (``<project>:places``,
a list of ``ACCOUNT`` or ``ACCOUNT/REGION``, the account by its manifest name
or its id); without it, the stack manages every place. Each stack reads every
other stack's configuration (the ``Pulumi.<stack>.yaml`` files beside it, as
CI checks them out) and every stack's recorded state, and decides:

- a place it manages that another stack's configuration names too, or that a
  stack without places holds in its state, is refused, naming that stack:
  a stack never silently takes over what another one manages;
- a place its state holds that its configuration no longer names is handed
  over when exactly one other stack's configuration names it: this stack
  forgets its resources there and deletes nothing in AWS; when no stack names
  it, the run is refused rather than deleting what the manifests still want;
- a place of the manifests (or of the ledger's records) that no stack names is
  refused: nothing would reconcile it, and every stack would exit 0.

So a place moves from stack A to stack B by moving its entry from A's places
to B's in one change; either stack may run first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fleet.files import UnreadableFile, read_bounded
from fleet.manifest.desired import Fleet
from fleet.revocation.state_records import Recorded

Place = tuple[str, str]  # (account id, region)
CONFIG_KEY = "places"
MAX_CONFIG_BYTES = 1024 * 1024  # a stack's configuration file


class ScopeError(ValueError):
    """A stack's places cannot be read or name nothing the manifests know."""


@dataclass(frozen=True)
class Scope:
    stack: str
    entries: tuple[str, ...] | None  # None: every place
    source: str = ""  # where the entries were read (Pulumi.<stack>.yaml)

    def covers(self, place: Place, accounts: Mapping[str, str]) -> bool:
        """``accounts``: manifest account name -> id."""
        if self.entries is None:
            return True
        account_id, region = place
        for entry in self.entries:
            account, _, only = entry.partition("/")
            if accounts.get(account, account) == account_id and only in ("", region):
                return True
        return False


@dataclass(frozen=True)
class Decision:
    mine: frozenset[Place]
    others: dict[Place, str] = field(default_factory=dict)  # the places other stacks name -> that stack
    handed_over: dict[Place, str] = field(default_factory=dict)  # of those, the ones this stack's state holds
    refusals: tuple[str, ...] = ()


def places_of(fleet: Fleet) -> frozenset[Place]:
    """Every place the manifests put something in, and every place the ledger keeps records in."""
    return frozenset(
        {(c.account_id, c.region) for c in fleet.ca_placements}
        | {(p.account_id, p.region) for p in fleet.policies}
        | {(g.account_id, g.region) for g in fleet.certificate_groups}
        | {place for revocation in fleet.ledger.revocations.values() for place in revocation.places}
    )


def scope_of(stack: str, entries: Any, source: str, fleet: Fleet) -> Scope:
    """A stack's places from its configuration value; ScopeError names ``source`` and the entry."""
    if entries is None:
        return Scope(stack, None, source)
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        raise ScopeError(f"{source}: {CONFIG_KEY} must be a list of ACCOUNT or ACCOUNT/REGION, got {entries!r}")
    known = {a.name: a for a in fleet.accounts} | {a.id: a for a in fleet.accounts}
    ledger_ids = set(fleet.ledger.roles)
    for entry in entries:
        account, slash, region = entry.partition("/")
        spec = known.get(account)
        if spec is None and account not in ledger_ids:
            raise ScopeError(
                f"{source}: {CONFIG_KEY}: {entry!r}: no account {account!r} in the manifests "
                f"(known: {', '.join(sorted(a.name for a in fleet.accounts))})"
            )
        if slash and spec is not None and region not in spec.regions:
            raise ScopeError(
                f"{source}: {CONFIG_KEY}: {entry!r}: account {spec.name} has no region {region!r} "
                f"(its regions: {', '.join(spec.regions)})"
            )
    return Scope(stack, tuple(entries), source)


def other_scopes(project_dir: Path, project: str, stack: str, fleet: Fleet) -> list[Scope]:
    """Every other stack's places, from the ``Pulumi.<stack>.yaml`` files in ``project_dir``."""
    scopes = []
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if name == stack:
            continue
        try:
            data = YAML(typ="safe").load(read_bounded(path, MAX_CONFIG_BYTES).decode()) or {}
        except (OSError, UnicodeDecodeError, UnreadableFile, YAMLError) as error:
            raise ScopeError(f"{path.name}: not readable as YAML: {error}") from None
        config = data.get("config") if isinstance(data, dict) else None
        entries = config.get(f"{project}:{CONFIG_KEY}") if isinstance(config, dict) else None
        scopes.append(scope_of(name, entries, path.name, fleet))
    return scopes


def decide(fleet: Fleet, this: Scope, others: Iterable[Scope], recorded: Iterable[Recorded]) -> Decision:
    accounts = {a.name: a.id for a in fleet.accounts}
    names = {a.id: a.name for a in fleet.accounts}
    everywhere = places_of(fleet)
    others = list(others)
    held = {r.stack: set(r.places) for r in recorded}
    mine = frozenset(p for p in everywhere if this.covers(p, accounts))

    def where(place: Place) -> str:
        return f"{names.get(place[0], place[0])}/{place[1]}"

    refusals = []
    for place in sorted(mine):
        for other in others:
            if other.entries is not None and other.covers(place, accounts):
                refusals.append(
                    f"  {where(place)} is in the places of stack `{other.stack}` ({other.source}) "
                    f"and of this stack `{this.stack}`: a place belongs to one stack"
                )
            elif other.entries is None and place in held.get(other.stack, set()):
                refusals.append(
                    f"  {where(place)} is managed by stack `{other.stack}` (its state holds it, and "
                    f"its configuration names no {CONFIG_KEY}): to move it to this stack, give "
                    f"`{other.stack}` {CONFIG_KEY} without it"
                )
    named, handed_over = {}, {}
    for place in sorted(everywhere - mine):
        owners = [o.stack for o in others if o.entries is not None and o.covers(place, accounts)]
        if len(owners) == 1:
            named[place] = owners[0]
        if place in held.get(this.stack, set()):
            if len(owners) == 1:
                handed_over[place] = owners[0]
            elif not owners:
                refusals.append(
                    f"  {where(place)}: this stack `{this.stack}` manages it, but neither its "
                    f"{CONFIG_KEY} nor any other stack's name it; to move it, name it in another "
                    f"stack's {CONFIG_KEY}; to delete what is there, remove it from the manifests"
                )
            else:
                refusals.append(
                    f"  {where(place)} is in the places of several stacks ({', '.join(owners)}): "
                    f"a place belongs to one stack"
                )
        elif not owners and not any(o.entries is None for o in others):
            # Every place belongs to one stack: one no stack names would never be reconciled.
            refusals.append(
                f"  {where(place)} is in the manifests but in no stack's {CONFIG_KEY}: nothing would "
                f"manage it; name it in one stack's {CONFIG_KEY}"
            )
    return Decision(mine, named, handed_over, tuple(refusals))
