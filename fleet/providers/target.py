"""The account and region a resource lives in, from its inputs."""

from __future__ import annotations

from typing import Any

from fleet.aws.session import shared_factory


def iot_client(props: dict[str, Any]) -> Any:
    return shared_factory().client("iot", props["role_arn"], props["account_id"], props["region"])


def where(props: dict[str, Any]) -> str:
    return f"account {props['account']} ({props['account_id']}), {props['region']}"
