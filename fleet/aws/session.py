"""One thread-safe factory of boto3 clients per (deployer role, region).

Each account is reached the way real accounts are: STS AssumeRole into the
role the manifest names, with credentials that refresh themselves before they
expire. The first use of a role checks with GetCallerIdentity that it really
is in the manifest's account. Nothing here is ever pickled into Pulumi state.

With a reader role set (FLEET_READER_ROLE), every account is reached through
that role instead, and any call that is not a read is refused before it is
sent: a pull request's preview runs the branch's code, so only IAM can keep it
from writing, and the refusal makes a write attempt plain.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from fleet.aws.errors import AccessDenied, calling, note_operation
from fleet.aws.pacing import Pacer
from fleet.aws.retry import OutageRetry
from fleet.settings import Settings

SESSION_NAME = "fleet"


class SessionFactory:
    """``read_only``: why this process only reads (a command that never writes, like `fleet import`):
    any call that is not a read is refused before it is sent, whichever role is used."""

    def __init__(self, settings: Settings, base: boto3.Session | None = None, read_only: str | None = None):
        self._settings = settings
        self._read_only = read_only
        self._base = base or boto3.Session()
        # Guards the maps and counts below, and is never held across a call to AWS: assuming a role
        # may wait out an outage for minutes, and every other thread (each write is counted) goes on.
        self._lock = threading.Lock()
        self._assuming: dict[str, threading.Lock] = {}  # one assumption at a time per role
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        # botocore tries each call once; OutageRetry decides on every retry, within a time budget.
        self._config = Config(retries={"mode": "standard", "max_attempts": 1})
        self._pacer = Pacer(default=settings.rate)
        self._retry = OutageRetry(settings.retry_seconds)
        self._writes: Counter[tuple[str, str]] = Counter()  # (account id, region) -> writes sent

    def client(self, service: str, role_arn: str, account_id: str, region: str) -> Any:
        """``role_arn`` empty: this process's own credentials, no role assumed (the just-in-time
        function reads its own account with its execution role)."""
        reader = self._settings.reader_role
        if reader and role_arn:
            partition = role_arn.split(":")[1]
            role_arn = f"arn:{partition}:iam::{account_id}:role/{reader}"
        key = (service, role_arn, region)
        with self._lock:
            if key in self._clients:
                return self._clients[key]
        session = self._session(role_arn, account_id) if role_arn else self._base  # may call STS: unlocked
        with self._lock:
            if key not in self._clients:
                client = session.client(
                    service, region_name=region, endpoint_url=self._settings.endpoint_url, config=self._config
                )
                if reader or self._read_only:
                    why = self._read_only or f"fleet runs read-only as {role_arn} (FLEET_READER_ROLE is set)"
                    client.meta.events.register(f"before-call.{service}", _refuse_writes(why))
                client.meta.events.register(f"before-call.{service}", self._pacer.hook(account_id, region))
                client.meta.events.register(f"before-call.{service}", note_operation)
                client.meta.events.register(f"after-call.{service}", self._count_writes(account_id, region))
                client.meta.events.register_first(f"needs-retry.{service}", self._retry)
                self._clients[key] = client
            return self._clients[key]

    def writes(self, account_id: str, region: str) -> int:
        """How many writes this process has sent to the account and region (listings kept
        from before one are stale)."""
        with self._lock:
            return self._writes[(account_id, region)]

    def _count_writes(self, account_id: str, region: str) -> Any:
        """Counted once answered: a listing begun after the count reflects the write."""

        def hook(model: Any, **_: Any) -> None:
            if not model.name.startswith(READ_PREFIXES):
                with self._lock:
                    self._writes[(account_id, region)] += 1

        return hook

    def _session(self, role_arn: str, account_id: str) -> boto3.Session:
        with self._lock:
            assuming = self._assuming.setdefault(role_arn, threading.Lock())
        with assuming:
            with self._lock:
                if role_arn in self._sessions:
                    return self._sessions[role_arn]
            session = self._assume(role_arn, account_id)
            with self._lock:
                self._sessions[role_arn] = session
            return session

    def _assume(self, role_arn: str, account_id: str) -> boto3.Session:
        """A session of the role, its credentials refreshed by assuming it again; checked to be in the account."""
        sts = self._base.client(
            "sts",
            region_name=self._settings.sts_region,
            endpoint_url=self._settings.endpoint_url,
            config=self._config,
        )
        sts.meta.events.register_first("needs-retry.sts", self._retry)

        def assume() -> dict[str, str]:
            with calling(f"assuming role {role_arn}"):
                credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        core = botocore.session.get_session()
        core._credentials = RefreshableCredentials.create_from_metadata(  # noqa: SLF001 (c7n does the same)
            metadata=assume(), refresh_using=assume, method="sts-assume-role"
        )
        session = boto3.Session(botocore_session=core)
        self._check_account(session, role_arn, account_id)
        return session

    def _check_account(self, session: boto3.Session, role_arn: str, account_id: str) -> None:
        sts = session.client(
            "sts", region_name=self._settings.sts_region, endpoint_url=self._settings.endpoint_url, config=self._config
        )
        sts.meta.events.register_first("needs-retry.sts", self._retry)  # an outage is waited out here too
        with calling(f"checking the account of role {role_arn}"):
            actual = sts.get_caller_identity()["Account"]
        if actual != account_id:
            raise AccessDenied(f"role {role_arn} is in account {actual}, but the manifest says {account_id}")


READ_PREFIXES = ("List", "Describe", "Get")


class ReadOnly(AccessDenied):
    """A write was attempted under the reader role."""


def _refuse_writes(why: str) -> Any:
    def hook(model: Any, **_: Any) -> None:
        if not model.name.startswith(READ_PREFIXES):
            raise ReadOnly(f"not calling {model.name}: {why}")

    return hook


_shared_lock = threading.Lock()
_shared: list[SessionFactory] = []


def shared_factory() -> SessionFactory:
    """The one factory of this process, so one pacer paces all its calls (made
    under a lock: the Pulumi provider process runs 4 threads)."""
    with _shared_lock:
        if not _shared:
            _shared.append(SessionFactory(Settings.from_env()))
        return _shared[0]
