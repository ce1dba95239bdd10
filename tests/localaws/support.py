"""Helpers for checking the local endpoint's fixes against plain moto."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devtools.endpoint import LocalAws
from devtools.pki import Issued
from fleet.crypto import pki
from tests.conftest import client_in

ACCOUNT_A = "333333333333"
ACCOUNT_B = "444444444444"
NO_RETRIES = Config(retries={"mode": "standard", "max_attempts": 1})

Check = Callable[[Callable[..., Any]], None]


def verification_for(iot: Any, ca: Issued, signer: Issued | None = None, code: str | None = None) -> str:
    code = code or iot.get_registration_code()["registrationCode"]
    now = datetime.datetime.now(datetime.UTC)
    return pki.verification_certificate(ca.cert, (signer or ca).key, code, now)


def register_default(iot: Any, ca: Issued, **extra: Any) -> str:
    reply = iot.register_ca_certificate(
        caCertificate=ca.cert_pem,
        verificationCertificate=verification_for(iot, ca),
        certificateMode="DEFAULT",
        setAsActive=True,
        **extra,
    )
    return str(reply["certificateId"])


def error_code(call: Callable[[], Any]) -> str:
    """The AWS error code ``call`` fails with; AssertionError when it succeeds."""
    try:
        call()
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    raise AssertionError("the call succeeded; AWS refuses it")


def clients_on(endpoint: LocalAws) -> Callable[..., Any]:
    def iot_in(account: str, region: str = "us-east-1") -> Any:
        client = client_in(endpoint, "iot", account, region)
        client.meta.config.retries = NO_RETRIES.retries
        return client

    return iot_in


def fix_tests(checks: list[Check]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests every fix gets: it holds on the local endpoint, and the
    same check fails on plain moto (so the fix is needed)."""
    ids = [check.__name__ for check in checks]

    @pytest.mark.parametrize("check", checks, ids=ids)
    def test_the_local_endpoint(check: Check, local_aws: LocalAws) -> None:
        check(clients_on(local_aws))

    @pytest.mark.parametrize("check", checks, ids=ids)
    def test_plain_moto_fails_without_the_fix(check: Check, plain_moto_server: LocalAws) -> None:
        plain_moto_server.reset()
        with pytest.raises((AssertionError, ClientError)):
            check(clients_on(plain_moto_server))

    return test_the_local_endpoint, test_plain_moto_fails_without_the_fix
