"""The places a sharded stack leaves to other stacks (fleet.program.stack_scope), told
to the provider process: a resource of this stack in such a place is forgotten
when the engine deletes it, and nothing is deleted in AWS (the other stack
manages it now). ``check`` runs while the program declares, before any delete
(fleet.providers.registry)."""

from __future__ import annotations

from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from fleet.providers.failures import checked, reported
from fleet.providers.registry import REGISTRY
from fleet.providers.resource import FleetResource, stored

NAME = "Stack"


def _handed_over(props: dict[str, Any]) -> dict[tuple[str, str], str]:
    others = props.get("others") or {}
    return {(key.split("/")[0], key.split("/")[1]): str(stack) for key, stack in others.items() if "/" in key}


class StackScopeProvider(ResourceProvider):
    @checked
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        REGISTRY.hand_over(_handed_over(news))
        return []

    @reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("stack", stored(props))

    @reported
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=stored(olds).get("others") != stored(news).get("others"), replaces=[])

    @reported
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(stored(news))


class StackScope(FleetResource, module="fleet", name=NAME):
    """``others``: "ACCOUNT_ID/REGION" -> the stack whose configuration names that place."""

    def __init__(self, others: dict[tuple[str, str], str], opts: ResourceOptions | None = None):
        props = {"others": {f"{account}/{region}": stack for (account, region), stack in sorted(others.items())}}
        super().__init__(StackScopeProvider(), "stack", props, opts)
