"""AWS IoT policy calls: create, new default versions within the 5-version
limit, delete. A create whose answer was lost (retried, then "already
exists") is settled by reading the policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import Conflict, NotFound, calling

# https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicyVersion.html
MAX_VERSIONS = 5
PAGE_SIZE = 250  # list calls: AWS allows 1..250


@dataclass(frozen=True)
class PolicyState:
    default_version_id: str
    document: str  # compact JSON, keys sorted


class Policies:
    def __init__(self, iot: Any, where: str):
        self._iot = iot
        self._where = where

    def get(self, name: str) -> PolicyState | None:
        found = self.default(name)
        return PolicyState(found[0], compact(found[1])) if found is not None else None

    def names(self) -> Iterator[str]:
        """Every policy's name here (fleet's or not), page by page."""
        paginator = self._iot.get_paginator("list_policies")
        with calling(f"listing policies in {self._where}"):
            for page in paginator.paginate(pageSize=PAGE_SIZE):
                for policy in page.get("policies", []):
                    yield str(policy["policyName"])

    def default(self, name: str) -> tuple[str, str] | None:
        """(default version id, its document as AWS has it, key order kept); None when the policy is missing."""
        try:
            reply = self._call("get_policy", f"reading policy {name}", policyName=name)
        except NotFound:
            return None
        return str(reply["defaultVersionId"]), str(reply["policyDocument"])

    def versions(self, name: str) -> list[tuple[int, bool]]:
        """(version id, is default) of every version, oldest first; [] when the policy is missing."""
        try:
            reply = self._call("list_policy_versions", f"listing versions of policy {name}", policyName=name)
        except NotFound:
            return []
        return sorted((int(v["versionId"]), bool(v.get("isDefaultVersion"))) for v in reply["policyVersions"])

    def delete_version(self, name: str, version: int) -> None:
        try:
            self._call(
                "delete_policy_version",
                f"deleting version {version} of policy {name}",
                policyName=name,
                policyVersionId=str(version),
            )
        except NotFound:
            return  # gone already (a retry after a lost answer)

    def create(self, name: str, document: str) -> None:
        """Create the policy; one that exists already gets the document as its default version."""
        try:
            self._call("create_policy", f"creating policy {name}", policyName=name, policyDocument=document)
        except Conflict:
            live = self.get(name)
            if live is None or live.document != compact(document):
                self.set_document(name, document)

    def set_document(self, name: str, document: str) -> None:
        """Make ``document`` the default version; first prune the oldest
        non-default version when the policy is at AWS's limit of 5."""
        versions = self.versions(name)
        if len(versions) >= MAX_VERSIONS:
            oldest = min(version for version, is_default in versions if not is_default)
            self.delete_version(name, oldest)
        self._call(
            "create_policy_version",
            f"updating policy {name}",
            policyName=name,
            policyDocument=document,
            setAsDefault=True,
        )

    def delete(self, name: str) -> None:
        try:
            for version, is_default in self.versions(name):
                if not is_default:
                    self.delete_version(name, version)
            self._call("delete_policy", f"deleting policy {name}", policyName=name)
        except NotFound:
            return

    def _call(self, operation: str, doing: str, **request: Any) -> dict[str, Any]:
        with calling(f"{doing} in {self._where}"):
            return dict(getattr(self._iot, operation)(**request))


def compact(document: str) -> str:
    return json.dumps(json.loads(document), separators=(",", ":"), sort_keys=True)
