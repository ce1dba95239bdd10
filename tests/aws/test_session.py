"""Accounts are reached through STS AssumeRole, and checked."""

from __future__ import annotations

import pytest

from devtools.endpoint import LocalAws
from fleet.aws.errors import AccessDenied
from fleet.aws.session import SessionFactory, shared_factory
from fleet.settings import Settings


def test_each_role_lands_in_its_own_account(local_aws: LocalAws) -> None:
    sessions = SessionFactory(Settings.from_env())
    for account in ("111111111111", "222222222222"):
        sts = sessions.client("sts", f"arn:aws:iam::{account}:role/fleet-deployer", account, "eu-west-1")
        assert sts.get_caller_identity()["Account"] == account


def test_clients_are_made_once_per_role_and_region(local_aws: LocalAws) -> None:
    sessions = SessionFactory(Settings.from_env())
    role = "arn:aws:iam::111111111111:role/fleet-deployer"
    first = sessions.client("iot", role, "111111111111", "us-east-1")
    assert sessions.client("iot", role, "111111111111", "us-east-1") is first
    assert sessions.client("iot", role, "111111111111", "eu-west-1") is not first
    assert local_aws.calls()["sts:AssumeRole"] == 1


def test_a_role_that_is_not_in_the_manifests_account_is_refused(local_aws: LocalAws) -> None:
    sessions = SessionFactory(Settings.from_env())
    with pytest.raises(AccessDenied, match="is in account 111111111111, but the manifest says 222222222222"):
        sessions.client("iot", "arn:aws:iam::111111111111:role/fleet-deployer", "222222222222", "us-east-1")


def test_settings_default_to_real_aws_without_an_endpoint_override() -> None:
    assert Settings.from_env({}).endpoint_url is None
    assert Settings.from_env({"FLEET_AWS_ENDPOINT_URL": "http://127.0.0.1:1"}).endpoint_url == "http://127.0.0.1:1"


def test_a_reader_role_replaces_every_deployer_role_and_refuses_writes(local_aws: LocalAws) -> None:
    from dataclasses import replace

    from fleet.aws.session import ReadOnly

    sessions = SessionFactory(replace(Settings.from_env(), reader_role="fleet-reader"))
    deployer = "arn:aws:iam::111111111111:role/fleet-deployer"
    sts = sessions.client("sts", deployer, "111111111111", "us-east-1")
    assert ":assumed-role/fleet-reader/" in sts.get_caller_identity()["Arn"]
    iot = sessions.client("iot", deployer, "111111111111", "us-east-1")
    assert iot.list_certificates()["certificates"] == []  # reads go through
    with pytest.raises(
        ReadOnly, match="not calling CreatePolicy: fleet runs read-only as arn:aws:iam::111111111111:role/fleet-reader"
    ):
        iot.create_policy(policyName="p", policyDocument="{}")
    assert "iot:CreatePolicy" not in local_aws.calls()  # refused before it was sent


def test_the_reader_role_comes_from_the_environment() -> None:
    assert Settings.from_env({}).reader_role is None
    assert Settings.from_env({"FLEET_READER_ROLE": "fleet-reader"}).reader_role == "fleet-reader"


def test_every_call_a_factory_makes_waits_out_an_outage(local_aws: LocalAws) -> None:
    """AssumeRole, the account check (GetCallerIdentity) and the IoT call itself: an outage at the
    start of a run once failed it at the account check, whose client had botocore's few retries only."""
    from dataclasses import replace

    sessions = SessionFactory(replace(Settings.from_env(), retry_seconds=90))
    # STS fails from its second call (the account check) on, for longer than botocore's own retries last;
    # then IoT fails for a while too.
    local_aws.arm_faults(
        {"kind": "outage", "service": "sts", "requests": "all", "after": 1, "seconds": 20},
        {"kind": "outage", "service": "iot", "requests": "all", "seconds": 5},
    )
    try:
        iot = sessions.client("iot", "arn:aws:iam::111111111111:role/fleet-deployer", "111111111111", "us-east-1")
        assert iot.list_certificates()["certificates"] == []
        injected = local_aws.faults_injected()
    finally:
        local_aws.clear_faults()
    assert sum(injected.values()) >= 4, injected  # the outage was met, and waited out


def test_a_read_only_factory_refuses_writes_whatever_the_role(local_aws: LocalAws) -> None:
    """`fleet import` reads only, with or without FLEET_READER_ROLE."""
    from fleet.aws.session import ReadOnly

    sessions = SessionFactory(Settings.from_env(), read_only="fleet import only reads AWS")
    iot = sessions.client("iot", "arn:aws:iam::111111111111:role/fleet-deployer", "111111111111", "us-east-1")
    assert iot.list_ca_certificates()["certificates"] == []
    with pytest.raises(ReadOnly, match="^not calling CreatePolicy: fleet import only reads AWS$"):
        iot.create_policy(policyName="p", policyDocument="{}")
    assert "iot:CreatePolicy" not in local_aws.calls()


def test_a_role_waiting_out_an_outage_never_stalls_the_other_accounts(local_aws: LocalAws) -> None:
    """Assuming a role may retry for minutes; meanwhile every other thread's calls, client lookups
    and write counts go on (the factory's lock is never held across a call to AWS)."""
    import threading
    from dataclasses import replace

    sessions = SessionFactory(replace(Settings.from_env(), retry_seconds=60))
    ready = sessions.client("iot", "arn:aws:iam::111111111111:role/fleet-deployer", "111111111111", "us-east-1")
    local_aws.arm_faults({"kind": "outage", "service": "sts", "requests": "all", "seconds": 8})
    slow = threading.Thread(
        target=sessions.client,
        args=("iot", "arn:aws:iam::222222222222:role/fleet-deployer", "222222222222", "us-east-1"),
    )
    try:
        slow.start()
        while not local_aws.faults_injected():  # the other thread is inside the outage now
            threading.Event().wait(0.05)
        ready.create_policy(policyName="p", policyDocument='{"Version": "2012-10-17", "Statement": []}')
        assert sessions.writes("111111111111", "us-east-1") == 1
        assert (
            sessions.client("iot", "arn:aws:iam::111111111111:role/fleet-deployer", "111111111111", "us-east-1")
            is ready
        )
        assert slow.is_alive(), "the write waited for another account's role to be assumed"
    finally:
        slow.join()
        local_aws.clear_faults()


def test_a_test_asking_for_the_shared_factory_first_leaves_none_to_the_next() -> None:
    """The process's one factory reads the environment once: without tests/conftest.py's reset, a
    test that asked first (on the dead endpoint) left every later test of its worker retrying that
    endpoint as an outage, for minutes."""
    assert shared_factory()._settings.endpoint_url == "http://127.0.0.1:9"


def test_the_next_test_gets_a_factory_of_its_own_environment(local_aws: LocalAws) -> None:
    assert shared_factory()._settings.endpoint_url == local_aws.url
