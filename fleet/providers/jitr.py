"""The just-in-time activation resource: in one account and region, the
function that activates what devices register (fleet.jitr.handler), its
execution role, a topic rule per CA placement with ``auto_activation`` and
the permission of each rule to invoke the function.

create and update converge every part, each read first and written only
where it differs (an object that exists is adopted; a write whose answer was
lost is settled by the read that follows), then read it all again and
succeed only if AWS holds the declaration. read reports what AWS has in the
declaration's shape (fleet.model.observe), so a rule disabled or edited, a function
or permission changed or deleted by hand, is drift named key by key; a
permission or role policy nobody declared is reported and removed. delete
removes the rules first (nothing invokes the function any more), then the
function, then the role.

The program declares this resource before the certificate resources, which
depend on it: a configuration that learns of a revocation is in AWS before
any certificate changes.
"""

from __future__ import annotations

from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet.aws.functions import Functions, FunctionSettings
from fleet.aws.roles import Roles
from fleet.aws.topic_rules import TopicRules
from fleet.jitr import package
from fleet.jitr.role import FUNCTION, POLICY, role_name
from fleet.model import observe
from fleet.model.declarations import JITR_SPEC, JitrInputs, from_json_text
from fleet.providers.failures import fail, reported
from fleet.providers.registry import REGISTRY
from fleet.providers.resource import FleetResource, diff_result, read_result, stored
from fleet.providers.target import client

KIND = "jitr"


class JitrProvider(ResourceProvider):
    @reported
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        declared = JitrInputs.of(news)
        REGISTRY.claim(KIND, declared.place, [FUNCTION], declared.resource_name)
        return CheckResult(news, [])

    @reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = JitrInputs.of(props)
        return CreateResult(declared.resource_name, _converged(declared, None))

    @reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        recorded = JitrInputs.of(props)
        found = observe.jitr(*_apis(recorded), recorded)
        return read_result(id_, found.props()) if found is not None else ReadResult(None, {})

    @reported
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        had, want = JitrInputs.of(olds), JitrInputs.of(news)
        replaces = JITR_SPEC.replaces(stored(olds), stored(news))
        return diff_result(bool(replaces) or _held(had) != _held(want), replaces)

    @reported
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_converged(JitrInputs.of(news), JitrInputs.of(olds)))

    @reported
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        recorded = JitrInputs.of(props)
        if REGISTRY.handed_over(recorded.place) or REGISTRY.claimed_elsewhere(
            KIND, recorded.place, FUNCTION, recorded.resource_name
        ):
            return
        functions, roles, rules = _apis(recorded)
        for name in recorded.rules:
            rules.delete(name)
        functions.delete(FUNCTION)
        roles.delete(role_name(recorded.region))


class JustInTimeActivation(FleetResource, module="fleet", name=JITR_SPEC.name):
    def __init__(self, declared: JitrInputs, opts: ResourceOptions | None = None):
        super().__init__(JitrProvider(), declared.resource_name, declared.props(), opts)


def _apis(inputs: JitrInputs) -> tuple[Functions, Roles, TopicRules]:
    where = inputs.where
    return (
        Functions(client("lambda", inputs), where),
        Roles(client("iam", inputs), where),
        TopicRules(client("iot", inputs), where),
    )


def _held(inputs: JitrInputs) -> tuple[Any, ...]:
    """What AWS holds of a declaration (not the manifest lines it came from)."""
    return inputs.role, inputs.function, inputs.permissions, inputs.rules


def _converged(want: JitrInputs, had: JitrInputs | None) -> dict[str, Any]:
    """Converge, read everything again; a second try at what still differs, then a failure naming it."""
    apis = _apis(want)
    found: JitrInputs | None = None
    for _ in range(2):
        _apply(apis, want, had)
        found = observe.jitr(*apis, want)
        if found is not None and _held(found) == _held(want):
            return want.props()
    differs = (
        "nothing of it"
        if found is None
        else ", ".join(
            part
            for part, have, wanted in zip(
                ("role", "function", "permissions", "rules"), _held(found), _held(want), strict=True
            )
            if have != wanted
        )
    )
    fail(
        f"just-in-time activation in {want.where} ({want.source}): AWS does not hold what was written "
        f"(it differs in: {differs})"
    )


def _apply(apis: tuple[Functions, Roles, TopicRules], want: JitrInputs, had: JitrInputs | None) -> None:
    functions, roles, rules = apis
    _role(roles, want)
    _function(functions, want)
    current = functions.permissions(FUNCTION)
    for sid, wanted in want.permissions.items():
        have = current.get(sid)
        if have is None or (have.principal, have.source_arn, have.source_account) != (
            wanted["principal"],
            wanted["source_arn"],
            wanted["source_account"],
        ):
            if have is not None:
                functions.disallow(FUNCTION, sid)
            functions.allow(FUNCTION, sid, wanted["principal"], wanted["source_arn"], wanted["source_account"])
    for sid in set(current) - set(want.permissions):
        functions.disallow(FUNCTION, sid)  # nobody else invokes fleet's function
    for name, wanted in want.rules.items():
        rule = rules.get(name)
        if (
            rule is None
            or {"sql": rule.sql, "enabled": "true" if rule.enabled else "false", "actions": ", ".join(rule.actions)}
            != wanted
        ):
            rules.put(name, wanted["sql"], wanted["actions"].removeprefix("lambda:"), exists=rule is not None)
    for name in set(had.rules if had is not None else ()) - set(want.rules):
        rules.delete(name)  # a placement that no longer has auto_activation


def _role(roles: Roles, want: JitrInputs) -> None:
    name = role_name(want.region)
    trust, policy = from_json_text(want.role["trust"]), from_json_text(want.role["policy"])
    held = roles.get(name)
    if held is None:
        roles.create(name, trust, "fleet's just-in-time activation function (docs/just-in-time.md)")
        held = roles.get(name)
        if held is None:
            fail(f"role {name} in {want.where}: created, but AWS does not have it")
    if held.trust != trust:
        roles.set_trust(name, trust)
    if held.policies.get(POLICY) != policy:
        roles.put_policy(name, POLICY, policy)
    for other in set(held.policies) - {POLICY}:
        roles.delete_policy(name, other)  # the role holds exactly what the handler calls
    for arn in held.attached:
        roles.detach(name, arn)


def _function(functions: Functions, want: JitrInputs) -> None:
    wanted = want.function
    settings = FunctionSettings(
        wanted["runtime"],
        wanted["handler"],
        wanted["role"],
        int(wanted["timeout"]),
        int(wanted["memory"]),
        {k: str(v) for k, v in from_json_text(wanted["environment"]).items()},
    )
    live = functions.get(FUNCTION)
    if live is None or live.code_sha256 != wanted["code_sha256"]:
        built = package.kept(wanted["code_sha256"])
        if built is None:
            fail(
                f"function {FUNCTION} in {want.where}: its package ({wanted['code_sha256']}) is not on this "
                "machine; the program makes it: run `pulumi up` (not a refresh or an import alone)"
            )
        if live is None:
            functions.create(FUNCTION, built, settings)
            live = functions.get(FUNCTION)
        if live is not None and live.code_sha256 != wanted["code_sha256"]:
            functions.update_code(FUNCTION, built)
            live = functions.get(FUNCTION)
    if live is not None and (live.runtime, live.handler, live.role, live.timeout, live.memory, live.environment) != (
        settings.runtime,
        settings.handler,
        settings.role,
        settings.timeout,
        settings.memory,
        settings.environment,
    ):
        functions.update_settings(FUNCTION, settings)
