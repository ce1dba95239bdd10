"""AWS IAM calls for the just-in-time function's execution role, in fleet's terms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fleet.aws.errors import Conflict, NotFound, calling


@dataclass(frozen=True)
class RoleState:
    trust: dict[str, Any]
    policies: dict[str, dict[str, Any]]  # inline policy name -> document
    attached: tuple[str, ...]  # managed policy ARNs


class Roles:
    """IAM roles of one account (IAM has no regions)."""

    def __init__(self, client: Any, where: str):
        self._iam = client
        self._where = where

    def get(self, name: str) -> RoleState | None:
        try:
            with calling(f"reading role {name} in {self._where}"):
                role = self._iam.get_role(RoleName=name)["Role"]
                names = [
                    n
                    for page in self._iam.get_paginator("list_role_policies").paginate(RoleName=name)
                    for n in page["PolicyNames"]
                ]
                policies = {
                    n: _document(self._iam.get_role_policy(RoleName=name, PolicyName=n)["PolicyDocument"])
                    for n in names
                }
                attached = tuple(
                    sorted(
                        p["PolicyArn"]
                        for page in self._iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
                        for p in page["AttachedPolicies"]
                    )
                )
        except NotFound:
            return None
        return RoleState(_document(role.get("AssumeRolePolicyDocument") or {}), policies, attached)

    def create(self, name: str, trust: dict[str, Any], description: str) -> None:
        try:
            with calling(f"creating role {name} in {self._where}"):
                self._iam.create_role(
                    RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description=description
                )
        except Conflict:
            return  # made meanwhile (or by an earlier try): the caller converges it

    def set_trust(self, name: str, trust: dict[str, Any]) -> None:
        with calling(f"updating the trust of role {name} in {self._where}"):
            self._iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))

    def put_policy(self, name: str, policy_name: str, document: dict[str, Any]) -> None:
        with calling(f"writing policy {policy_name} of role {name} in {self._where}"):
            self._iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))

    def delete_policy(self, name: str, policy_name: str) -> None:
        try:
            with calling(f"deleting policy {policy_name} of role {name} in {self._where}"):
                self._iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        except NotFound:
            return

    def detach(self, name: str, policy_arn: str) -> None:
        try:
            with calling(f"detaching {policy_arn} from role {name} in {self._where}"):
                self._iam.detach_role_policy(RoleName=name, PolicyArn=policy_arn)
        except NotFound:
            return

    def delete(self, name: str) -> None:
        """With its policies: IAM deletes only a role that has none."""
        found = self.get(name)
        if found is None:
            return
        for policy_name in found.policies:
            self.delete_policy(name, policy_name)
        for arn in found.attached:
            self.detach(name, arn)
        try:
            with calling(f"deleting role {name} in {self._where}"):
                self._iam.delete_role(RoleName=name)
        except NotFound:
            return


def _document(value: Any) -> dict[str, Any]:
    """IAM answers a policy document as URL-encoded JSON text; boto3 usually decodes it already."""
    if isinstance(value, str):
        return dict(json.loads(unquote(value)))
    return dict(value)
