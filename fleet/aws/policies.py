"""AWS IoT policy calls: create, new default versions within the 5-version
limit, delete."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import NotFound, calling

# https://docs.aws.amazon.com/iot/latest/apireference/API_CreatePolicyVersion.html
MAX_VERSIONS = 5


@dataclass(frozen=True)
class PolicyState:
    default_version_id: str
    document: str  # compact JSON, keys sorted


class Policies:
    def __init__(self, iot: Any, where: str):
        self._iot = iot
        self._where = where

    def get(self, name: str) -> PolicyState | None:
        try:
            with calling(f"reading policy {name} in {self._where}"):
                reply = self._iot.get_policy(policyName=name)
        except NotFound:
            return None
        return PolicyState(str(reply["defaultVersionId"]), compact(reply["policyDocument"]))

    def versions(self, name: str) -> list[tuple[int, bool]]:
        """(version id, is default) of every version, oldest first; [] when the policy is missing."""
        try:
            with calling(f"listing versions of policy {name} in {self._where}"):
                reply = self._iot.list_policy_versions(policyName=name)
        except NotFound:
            return []
        return sorted((int(v["versionId"]), bool(v.get("isDefaultVersion"))) for v in reply["policyVersions"])

    def delete_version(self, name: str, version: int) -> None:
        with calling(f"deleting version {version} of policy {name} in {self._where}"):
            self._iot.delete_policy_version(policyName=name, policyVersionId=str(version))

    def create(self, name: str, document: str) -> None:
        with calling(f"creating policy {name} in {self._where}"):
            self._iot.create_policy(policyName=name, policyDocument=document)

    def set_document(self, name: str, document: str) -> None:
        """Make ``document`` the default version; first prune the oldest
        non-default version when the policy is at AWS's limit of 5."""
        with calling(f"listing versions of policy {name} in {self._where}"):
            versions = self._iot.list_policy_versions(policyName=name)["policyVersions"]
        if len(versions) >= MAX_VERSIONS:
            oldest = min((v for v in versions if not v.get("isDefaultVersion")), key=lambda v: int(v["versionId"]))
            with calling(f"deleting version {oldest['versionId']} of policy {name} in {self._where}"):
                self._iot.delete_policy_version(policyName=name, policyVersionId=oldest["versionId"])
        with calling(f"updating policy {name} in {self._where}"):
            self._iot.create_policy_version(policyName=name, policyDocument=document, setAsDefault=True)

    def delete(self, name: str) -> None:
        try:
            with calling(f"deleting policy {name} in {self._where}"):
                for version in self._iot.list_policy_versions(policyName=name)["policyVersions"]:
                    if not version.get("isDefaultVersion"):
                        self._iot.delete_policy_version(policyName=name, policyVersionId=version["versionId"])
                self._iot.delete_policy(policyName=name)
        except NotFound:
            return


def compact(document: str) -> str:
    return json.dumps(json.loads(document), separators=(",", ":"), sort_keys=True)
