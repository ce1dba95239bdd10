"""fleet.aws.functions' waits, with an in-process stand-in for Lambda's answers: a
role IAM has not propagated yet is waited out by name, and an update waits
until the function is no longer being made or updated (functions-states.html)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleet.aws.errors import RuleViolation
from fleet.aws.functions import Functions, FunctionSettings

SETTINGS = FunctionSettings("python3.13", "fleet.jitr.handler.handler", "arn:aws:iam::1:role/r", 60, 256, {})


class Lambda:
    """Answers GetFunctionConfiguration from a script of states; records the calls."""

    def __init__(self, states: list[tuple[str, str]], refusals: int = 0, message: str = "") -> None:
        self.states = states  # (State, LastUpdateStatus), one per read; the last one stays
        self.refusals = refusals
        self.message = message
        self.calls: list[str] = []

    def get_function_configuration(self, **_: Any) -> dict[str, Any]:
        self.calls.append("get")
        state, update = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"FunctionArn": "arn", "CodeSha256": "x", "State": state, "LastUpdateStatus": update}

    def update_function_code(self, **_: Any) -> None:
        self.calls.append("update")

    def create_function(self, **_: Any) -> None:
        self.calls.append("create")
        if self.refusals:
            self.refusals -= 1
            raise ClientError(
                {"Error": {"Code": "InvalidParameterValueException", "Message": self.message}}, "CreateFunction"
            )


def functions(client: Lambda) -> Functions:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return Functions(client, "account 1, us-east-1", sleep=sleep, clock=lambda: now[0])


def test_an_update_waits_while_the_function_is_made_or_updated() -> None:
    client = Lambda([("Pending", ""), ("Active", "InProgress"), ("Active", "Successful")])
    functions(client).update_code("fleet-jitr", b"zip")
    assert client.calls == ["get", "get", "get", "update", "get"]


def test_a_role_iam_has_not_propagated_is_waited_out() -> None:
    client = Lambda(
        [("Active", "Successful")], refusals=3, message="The role defined for the function cannot be assumed by Lambda."
    )
    functions(client).create("fleet-jitr", b"zip", SETTINGS)
    assert client.calls == ["create"] * 4


def test_another_invalid_parameter_is_not_waited_on() -> None:
    client = Lambda([("Active", "Successful")], refusals=1, message="Runtime python9 is not supported")
    with pytest.raises(RuleViolation, match="python9"):
        functions(client).create("fleet-jitr", b"zip", SETTINGS)
    assert client.calls == ["create"]
