"""The Pulumi program: load the manifests, look at AWS once, refuse what
must not happen, declare the resources.

A manifest problem, a revoked certificate the manifests would make usable
(by the ledger and its history, AWS's records anywhere they may be, or any
stack's recorded state: fleet.revocation.guard), a CA to register in
DEFAULT mode whose verification certificate cannot be had (fleet.providers.custody: a
KMS key out of reach or not the CA's, an offline certificate for another
code or expired), or a CA the stack would adopt in the other mode than AWS
holds it, stops the program before any resource is declared, so such a run
touches no account (pulumi.RunError: one clean message on every SDK).
Everything else is a
declaration (fleet.program.resources), limited to this stack's places when the fleet
runs as several stacks (fleet.program.stack_scope); each resource reads what it owns
at refresh and converges on up.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pulumi

from fleet import watchdog
from fleet.aws.errors import AwsError
from fleet.aws.regions import iot_regions
from fleet.aws.session import shared_factory
from fleet.jitr import package
from fleet.manifest import Fleet, ManifestError, ledger_history, load_fleet
from fleet.model.declarations import Inputs
from fleet.model.survey import Survey, survey
from fleet.program import stack_scope
from fleet.program.resources import Resources, declare
from fleet.providers import custody
from fleet.providers.ca_placement import CaPlacement, mode_conflict
from fleet.providers.device_certificates import DeviceCertificates
from fleet.providers.jitr import JustInTimeActivation
from fleet.providers.policy import IotPolicy
from fleet.providers.stack_scope import StackScope
from fleet.revocation import guard, state_records
from fleet.settings import Settings, SettingsError


@dataclass(frozen=True)
class Declared:
    """Every resource the program declared, with its declaration."""

    resources: tuple[tuple[Inputs, pulumi.CustomResource], ...]
    jitr_configuration: str = ""  # the just-in-time function's configuration, deployed by fleet or not


@dataclass(frozen=True)
class Decided:
    """What the program decided before it declares anything: every refusal is behind it."""

    resources: Resources
    scope: stack_scope.Decision
    deploy_jitr: bool


def declare_fleet(
    manifests: Path | None = None,
    parent: pulumi.Resource | None = None,
    project_dir: Path | None = None,
    deploy_jitr: bool = True,
) -> Declared:
    """fleet's resources at the top of the stack (``parent`` None), as before it was a component."""
    return declare_resources(decide(manifests, project_dir, deploy_jitr), parent)


def decide(manifests: Path | None = None, project_dir: Path | None = None, deploy_jitr: bool = True) -> Decided:
    """Load, survey, guard: every refusal is raised here, before any resource (even the component
    that would hold them) is registered. ``manifests``: the folder (default: the project's
    `manifests` config, else "manifests"); ``project_dir``: the Pulumi project's folder (default:
    the working directory); ``deploy_jitr``: False leaves the just-in-time function to the team
    (docs/just-in-time.md)."""
    watchdog.ensure_started()
    watchdog.end_quietly_when_interrupted()
    project_dir = project_dir or Path.cwd()
    config = pulumi.Config()  # the project's own namespace, whatever its name
    manifests = manifests or Path(config.get("manifests") or "manifests")
    try:
        Settings.from_env()
    except SettingsError as error:
        raise pulumi.RunError(f"fleet's settings: {error}; nothing was changed") from None
    try:
        past = ledger_history.fingerprints(manifests, note=pulumi.log.info)
    except ledger_history.HistoryUnavailable as error:
        raise pulumi.RunError(
            f"fleet could not read the revocation ledger's history; nothing was changed: {error}"
        ) from None
    if past is None:
        pulumi.log.warn(
            f"{manifests} is not in a git work tree: the revocation ledger's history is not consulted "
            "(the ledger itself, AWS's records and the recorded state still are)"
        )
    # The stacks' recorded state is read by another process (`pulumi stack export`) while the manifests load.
    background = ThreadPoolExecutor(max_workers=1)
    recorded_soon = background.submit(state_records.read, project_dir)
    background.shutdown(wait=False)
    try:
        # Messages name files as "manifests/cas.yaml", wherever the folder is.
        fleet = load_fleet(
            manifests,
            known_regions=iot_regions(),
            display_root=manifests.resolve().parent,
            ledger_history=past or frozenset(),
            repository=ledger_history.work_tree(manifests),
        )
    except ManifestError as error:
        raise pulumi.RunError(str(error)) from None
    state_read = True
    try:
        recorded = recorded_soon.result()
    except state_records.StateUnavailable as error:
        recorded, state_read = [], False
        pulumi.log.warn(
            f"the stacks' recorded state could not be read, so it is not consulted as a memory of revocations ({error})"
        )
    elsewhere = {place: role for stack in recorded for place, role in stack.places.items() if role}
    elsewhere.update(
        {
            (account_id, region): fleet.ledger.roles.get(account_id) or _role(fleet, account_id)
            for known in fleet.ledger.revocations.values()
            for account_id, region in known.places
        }
    )
    try:
        seen = survey(fleet, shared_factory(), elsewhere=elsewhere)
    except AwsError as error:
        raise pulumi.RunError(
            f"fleet could not read AWS everywhere a revocation may be recorded; nothing was changed: {error}"
        ) from None
    refusals = guard.refusals(fleet, seen, recorded)  # over the whole fleet, whatever this stack's places
    if refusals:
        raise pulumi.RunError("\n".join(["refusing to run; nothing was changed:", *refusals]))
    scope = _scope(fleet, recorded, project_dir)
    for warning in fleet.warnings:
        pulumi.log.warn(str(warning))
    try:
        signers = custody.check(fleet, seen, shared_factory(), scope.mine)
    except AwsError as error:
        raise pulumi.RunError(f"fleet could not read a registration code; nothing was changed: {error}") from None
    if signers.refusals:
        raise pulumi.RunError(
            "\n".join(
                [
                    "refusing to run; nothing was changed: registering these CAs in DEFAULT "
                    "mode needs a verification certificate signed for the place:",
                    *signers.refusals,
                ]
            )
        )
    if signers.missing and not pulumi.runtime.is_dry_run():
        raise pulumi.RunError(
            "\n".join(
                [
                    "refusing to run; nothing was changed: registering these CAs in DEFAULT "
                    "mode needs their private keys:",
                    *signers.missing,
                ]
            )
        )
    for problem in signers.missing:  # a preview (a pull request's) runs without keys: said, not refused
        pulumi.log.warn(f"the apply will need a CA private key: {problem}")
    if state_read:  # else each CA placement's check says it (fleet.providers.ca_placement)
        this = next((r for r in recorded if r.stack == pulumi.get_stack()), state_records.Recorded(""))
        conflicts = mode_conflicts(fleet, seen, this, scope.mine)
        if conflicts:
            raise pulumi.RunError("\n".join(["refusing to run; nothing was changed:", *conflicts]))

    declared = declare(fleet, seen, project_dir, recorded).within(scope.mine)
    for digest, built in declared.packages.items() if deploy_jitr else ():
        if package.keep(built) != digest:
            raise pulumi.RunError("fleet could not keep the just-in-time function's package; nothing was changed")
    return Decided(declared, scope, deploy_jitr)


def declare_resources(decided: Decided, parent: pulumi.Resource | None = None) -> Declared:
    """Every resource of the decision, as children of ``parent`` (fleet.component.Fleet), each aliased
    to the top-level resource it was before fleet became a component (no change for existing stacks)."""
    declared, scope, deploy_jitr = decided.resources, decided.scope, decided.deploy_jitr
    if scope.others:
        StackScope(scope.others, _options(parent))
    for place, stack in scope.handed_over.items():
        pulumi.log.info(
            f"{place[0]}/{place[1]} is handed over to stack `{stack}`: this stack forgets its "
            "resources there; nothing is deleted in AWS"
        )
    for note in declared.notes:
        pulumi.log.warn(note)
    policies = [(p, IotPolicy(p, _options(parent))) for p in declared.policies]
    cas = [(c, CaPlacement(c, _options(parent))) for c in declared.cas]

    def of_place(place: tuple[str, str]) -> list[pulumi.Resource]:
        return [r for d, r in [*policies, *cas] if d.place == place]

    # Before any certificate anywhere changes, every function knows the ledger as this run applies it.
    activation = [
        (j, JustInTimeActivation(j, _options(parent, of_place(j.place))))
        for j in (declared.jitr if deploy_jitr else ())
    ]
    # CAs and policies first on create (registration and attachment need them), and the certificates first on delete.
    shards = [
        (s, DeviceCertificates(s, _options(parent, [*of_place(s.place), *(r for _, r in activation)])))
        for s in declared.shards
    ]
    return Declared((*policies, *cas, *activation, *shards), declared.jitr_configuration)


def _options(parent: pulumi.Resource | None, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
    if parent is None:
        return pulumi.ResourceOptions(depends_on=depends_on)
    return pulumi.ResourceOptions(
        parent=parent, depends_on=depends_on, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
    )


def _scope(fleet: Fleet, recorded: list[state_records.Recorded], project_dir: Path) -> stack_scope.Decision:
    """This stack's places among the fleet's stacks; refused as the module says."""
    stack, project = pulumi.get_stack(), pulumi.get_project()
    try:
        this = stack_scope.scope_of(
            stack, _json_or_text(pulumi.Config().get(stack_scope.CONFIG_KEY)), f"Pulumi.{stack}.yaml", fleet
        )
        others = stack_scope.other_scopes(project_dir, project, stack, fleet)
    except stack_scope.ScopeError as error:
        raise pulumi.RunError(f"refusing to run; nothing was changed: {error}") from None
    decision = stack_scope.decide(fleet, this, others, recorded)
    if decision.refusals:
        raise pulumi.RunError(
            "\n".join(["refusing to run; nothing was changed: each place is managed by one stack:", *decision.refusals])
        )
    return decision


def _json_or_text(value: str | None) -> object:
    """A structured config value (`pulumi config set --path 'places[0]' prod` stores a list) or its text."""
    try:
        return json.loads(value) if value is not None else None
    except json.JSONDecodeError:
        return value


def mode_conflicts(
    fleet: Fleet, seen: Survey, this: state_records.Recorded, places: frozenset[tuple[str, str]] | None = None
) -> list[str]:
    """CA placements this stack's state does not hold whose CA AWS has in the other mode: create would
    adopt them, and cannot (a placement the state holds is replaced instead: deregistered, registered
    again). ``places``: only those (a sharded stack's)."""
    problems = []
    for spec in fleet.ca_placements:
        place = seen.place(spec.account_id, spec.region)
        if place is None or places is not None and (spec.account_id, spec.region) not in places:
            continue
        live = place.cas.get(spec.certificate_id)
        if (
            live is not None
            and live.mode != spec.mode
            and spec.certificate_id not in this.cas.get((spec.account_id, spec.region), set())
        ):
            problems.append(mode_conflict(f"CA {spec.ca} ({spec.source}) in {place.where}", live.mode, spec.mode))
    return problems


def _role(fleet: Fleet, account_id: str) -> str:
    """The manifests' role for an account (the ledger's roles cover the others: fleet validate sees to it)."""
    return next((a.role_arn for a in fleet.accounts if a.id == account_id), "")
