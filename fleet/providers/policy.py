"""The IoT policy resource: one policy document in one account and region.

A changed document becomes a new default version (pruning the oldest
non-default one at AWS's limit of 5), never a delete and re-create, so the
certificates it is attached to never lose it. fleet keeps one version, the
declared document as the default: any other version (made by hand, or left
by an earlier document) is removed, unless the manifests keep them
(`other_versions: keep`, which `fleet import` writes for a policy that has
some). The policy's attachments to certificates belong to the certificate
resources; attachments to any other principal are removed. read reports all
of it in the declaration's shape (fleet.model.observe).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet.aws.certificates import Certificates
from fleet.aws.listing import PlaceListing
from fleet.aws.policies import Policies, compact
from fleet.model import observe
from fleet.model.declarations import POLICY_SPEC, PolicyInputs
from fleet.providers.failures import checked, fail, reported
from fleet.providers.registry import REGISTRY
from fleet.providers.resource import FleetResource, diff_result, read_result, stored
from fleet.providers.target import iot_client, listing

KIND = "policy"


class PolicyProvider(ResourceProvider):
    @checked
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        declared = PolicyInputs.of(news)
        REGISTRY.claim(KIND, declared.place, [declared.policy], declared.resource_name)
        return []

    @reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = PolicyInputs.of(props)
        api = _api(declared)
        live = api.get(declared.policy)
        if live is None:
            api.create(declared.policy, declared.document)  # one that appeared meanwhile is adopted
        return CreateResult(declared.policy, _converged(declared))

    @reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        declared = PolicyInputs.of(props)
        found = observe.policy(listing(declared), declared)
        return read_result(id_, found.props()) if found is not None else ReadResult(None, {})

    @reported
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        had, want = PolicyInputs.of(olds), PolicyInputs.of(news)
        replaces = POLICY_SPEC.replaces(stored(olds), stored(news))
        changed = bool(replaces) or replace(had, document=compact(had.document)) != replace(
            want, document=compact(want.document)
        )
        return diff_result(changed, replaces)

    @reported
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        declared = PolicyInputs.of(news)
        if _api(declared).get(declared.policy) is None:
            _api(declared).create(declared.policy, declared.document)
        return UpdateResult(_converged(declared))

    @reported
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        recorded = PolicyInputs.of(props)
        if REGISTRY.handed_over(recorded.place) or REGISTRY.claimed_elsewhere(
            KIND, recorded.place, recorded.policy, recorded.resource_name
        ):
            return
        _api(recorded).delete(recorded.policy)


class IotPolicy(FleetResource, module="fleet", name=POLICY_SPEC.name):
    def __init__(self, declared: PolicyInputs, opts: ResourceOptions | None = None):
        super().__init__(PolicyProvider(), declared.resource_name, declared.props(), opts)


def _api(declared: PolicyInputs) -> Policies:
    return Policies(iot_client(declared), declared.where)


def _converged(declared: PolicyInputs) -> dict[str, Any]:
    """Make AWS hold the declaration, reading it afresh before each step: the
    step succeeds only once AWS holds it (a new default version first, then
    the old versions and other principals removed; a few tries, then a failure
    naming what differs)."""
    api = _api(declared)
    principals = Certificates(iot_client(declared), declared.where)
    found: PolicyInputs | None = None
    for _ in range(4):
        found = observe.policy(PlaceListing(iot_client(declared), declared.where), declared)
        if found == declared:
            return declared.props()
        if found is None:
            api.create(declared.policy, declared.document)
            continue
        if compact(found.document) != compact(declared.document):
            api.set_document(declared.policy, declared.document)
            continue  # the version that was the default is now one more to remove
        for version in found.versions_made_by_hand:
            api.delete_version(declared.policy, int(version))
        for target in found.other_principals:
            principals.detach(declared.policy, target)
    have = (
        "no such policy"
        if found is None
        else (
            f"versions {', '.join(found.versions_made_by_hand) or 'none'} besides the default, attached to "
            f"{', '.join(found.other_principals) or 'no other principal'}"
        )
    )
    fail(
        f"policy {declared.policy} ({declared.source}) in {declared.where}: AWS does not hold what was written ({have})"
    )
