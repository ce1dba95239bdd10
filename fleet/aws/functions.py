"""AWS Lambda calls for fleet's just-in-time activation function, in fleet's terms."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import Conflict, NotFound, RuleViolation, calling

# IAM is eventually consistent: a role just made is refused by CreateFunction for a few seconds
# ("The role defined for the function cannot be assumed by Lambda"). Waited out, by name.
ROLE_PROPAGATION_SECONDS = 60.0
UPDATE_SECONDS = 120.0  # how long an update may stay InProgress before fleet gives up


@dataclass(frozen=True)
class FunctionState:
    arn: str
    code_sha256: str
    runtime: str
    handler: str
    role: str
    timeout: int
    memory: int
    environment: dict[str, str]
    update_status: str  # Successful | InProgress | Failed (AWS's LastUpdateStatus; absent means Successful)
    state: str = "Active"  # Pending while AWS makes a new function (AWS's State)


@dataclass(frozen=True)
class FunctionSettings:
    runtime: str
    handler: str
    role: str
    timeout: int
    memory: int
    environment: dict[str, str]


@dataclass(frozen=True)
class Permission:
    """One statement of the function's resource policy."""

    principal: str
    source_arn: str
    source_account: str


class Functions:
    """The Lambda calls of one account and region."""

    def __init__(
        self,
        client: Any,
        where: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._lambda = client
        self._where = where
        self._sleep = sleep
        self._clock = clock

    def get(self, name: str) -> FunctionState | None:
        try:
            with calling(f"reading function {name} in {self._where}"):
                found = self._lambda.get_function_configuration(FunctionName=name)
        except NotFound:
            return None
        return FunctionState(
            found["FunctionArn"],
            found["CodeSha256"],
            found.get("Runtime", ""),
            found.get("Handler", ""),
            found.get("Role", ""),
            int(found.get("Timeout", 0)),
            int(found.get("MemorySize", 0)),
            dict((found.get("Environment") or {}).get("Variables") or {}),
            found.get("LastUpdateStatus") or "Successful",
            found.get("State") or "Active",
        )

    def create(self, name: str, package: bytes, settings: FunctionSettings) -> None:
        """Adopts a function made meanwhile (the caller converges it)."""
        deadline = self._clock() + ROLE_PROPAGATION_SECONDS
        while True:
            try:
                with calling(f"creating function {name} in {self._where}"):
                    self._lambda.create_function(
                        FunctionName=name, Code={"ZipFile": package}, Publish=False, **_settings(settings)
                    )
                return
            except Conflict:
                return
            except RuleViolation as error:
                if "cannot be assumed" not in str(error) or self._clock() > deadline:
                    raise
                self._sleep(2.0)

    def update_code(self, name: str, package: bytes) -> None:
        self._wait_updated(name)
        with calling(f"updating the code of function {name} in {self._where}"):
            self._lambda.update_function_code(FunctionName=name, ZipFile=package, Publish=False)
        self._wait_updated(name)

    def update_settings(self, name: str, settings: FunctionSettings) -> None:
        self._wait_updated(name)
        with calling(f"updating function {name} in {self._where}"):
            self._lambda.update_function_configuration(FunctionName=name, **_settings(settings))
        self._wait_updated(name)

    def delete(self, name: str) -> None:
        try:
            with calling(f"deleting function {name} in {self._where}"):
                self._lambda.delete_function(FunctionName=name)
        except NotFound:
            return

    def permissions(self, name: str) -> dict[str, Permission]:
        """The function's resource policy, by statement id ({} without one, or without the function)."""
        try:
            with calling(f"reading the permissions of function {name} in {self._where}"):
                text = self._lambda.get_policy(FunctionName=name)["Policy"]
        except NotFound:
            return {}
        found = {}
        for statement in json.loads(text).get("Statement", []):
            principal = statement.get("Principal", {})
            condition = statement.get("Condition", {})
            found[str(statement.get("Sid", ""))] = Permission(
                principal.get("Service", json.dumps(principal, sort_keys=True))
                if isinstance(principal, dict)
                else str(principal),
                str(_condition(condition, "ArnLike", "AWS:SourceArn")),
                str(_condition(condition, "StringEquals", "AWS:SourceAccount")),
            )
        return found

    def allow(self, name: str, statement_id: str, principal: str, source_arn: str, source_account: str) -> None:
        try:
            with calling(f"allowing {principal} to invoke function {name} in {self._where}"):
                self._lambda.add_permission(
                    FunctionName=name,
                    StatementId=statement_id,
                    Action="lambda:InvokeFunction",
                    Principal=principal,
                    SourceArn=source_arn,
                    SourceAccount=source_account,
                )
        except Conflict:
            return  # added by an earlier try whose answer was lost: the caller reads it again

    def disallow(self, name: str, statement_id: str) -> None:
        try:
            with calling(f"removing permission {statement_id} of function {name} in {self._where}"):
                self._lambda.remove_permission(FunctionName=name, StatementId=statement_id)
        except NotFound:
            return

    def _wait_updated(self, name: str) -> None:
        """A function being made or updated takes the next update badly (ResourceConflictException):
        wait for it (docs.aws.amazon.com/lambda/latest/dg/functions-states.html)."""
        deadline = self._clock() + UPDATE_SECONDS
        while True:
            found = self.get(name)
            if found is None or (found.update_status != "InProgress" and found.state != "Pending"):
                return
            if self._clock() > deadline:
                raise Conflict(f"function {name} in {self._where} is still being updated after {UPDATE_SECONDS:.0f} s")
            self._sleep(1.0)


def _settings(settings: FunctionSettings) -> dict[str, Any]:
    return {
        "Runtime": settings.runtime,
        "Handler": settings.handler,
        "Role": settings.role,
        "Timeout": settings.timeout,
        "MemorySize": settings.memory,
        "Environment": {"Variables": dict(settings.environment)},
    }


def _condition(condition: Mapping[str, Any], operator: str, key: str) -> str:
    value = (condition.get(operator) or {}).get(key, "")
    return str(value[0] if isinstance(value, list) and value else value)
