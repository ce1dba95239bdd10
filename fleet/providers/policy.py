"""The IoT policy resource: one policy document in one account and region.

A changed document becomes a new default version (pruning the oldest
non-default one at AWS's limit of 5), never a delete and re-create, so the
certificates it is attached to never lose it. Drift the program's survey
found comes in as inputs: versions added by hand (newer than the default,
which fleet never leaves behind) are deleted, and the policy is detached
from principals it was attached to by hand.
"""

from __future__ import annotations

from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet.aws.certificates import Certificates
from fleet.aws.policies import Policies, compact
from fleet.manifest.desired import PolicySpec
from fleet.providers.resource import FleetResource
from fleet.providers.target import iot_client, where


def inputs_of(spec: PolicySpec, drift: list[str] | None = None, detach: list[str] | None = None) -> dict[str, Any]:
    return {"policy": spec.name, "account": spec.account, "account_id": spec.account_id,
            "role_arn": spec.role_arn, "region": spec.region, "document": spec.document, "source": spec.source,
            "drift": list(drift or []), "detach": list(detach or [])}


class PolicyProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        api = _api(props)
        live = api.get(props["policy"])
        if live is None:
            api.create(props["policy"], props["document"])
        elif live.document != compact(props["document"]):
            api.set_document(props["policy"], props["document"])  # adopt, then converge
        return CreateResult(props["policy"], _outputs(props, api))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = _api(props).get(id_)
        if live is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**_own(props), "document": live.document})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in ("policy", "account_id", "region") if olds.get(k) != news.get(k)]
        changed = compact(olds.get("document", "{}")) != compact(news["document"]) or bool(news.get("drift"))
        return DiffResult(changes=bool(replaces) or changed, replaces=replaces)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        api = _api(news)
        live = api.get(id_)
        if live is None:
            api.create(id_, news["document"])
        elif live.document != compact(news["document"]):
            api.set_document(id_, news["document"])
        versions = api.versions(id_)
        default = max((v for v, is_default in versions if is_default), default=0)
        for version, is_default in versions:
            if version > default and not is_default:
                api.delete_version(id_, version)  # added by hand
        targets = Certificates(iot_client(news), where(news))
        for arn in news.get("detach", []):
            targets.detach(id_, arn)
        return UpdateResult(_outputs(news, api))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        _api(props).delete(id_)


class IotPolicy(FleetResource, module="fleet", name="IotPolicy"):
    def __init__(self, spec: PolicySpec, drift: list[str], detach: list[str], opts: ResourceOptions | None = None):
        super().__init__(PolicyProvider(), spec.resource_name, inputs_of(spec, drift, detach), opts)


def _api(props: dict[str, Any]) -> Policies:
    return Policies(iot_client(props), where(props))


def _own(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k != "__provider"}


def _outputs(props: dict[str, Any], api: Policies) -> dict[str, Any]:
    live = api.get(props["policy"])
    return {**_own(props), "document": live.document if live else props["document"], "drift": [], "detach": []}
