"""The account and region a resource lives in: its AWS client and listing."""

from __future__ import annotations

import threading
from typing import Any

from fleet import watchdog
from fleet.aws.listing import Listings, PlaceListing
from fleet.aws.session import shared_factory
from fleet.model.declarations import Inputs


def iot_client(inputs: Any) -> Any:
    watchdog.ensure_started()
    return shared_factory().client("iot", inputs.role_arn, inputs.account_id, inputs.region)


_lock = threading.Lock()
_kept: list[Listings] = []


def _listings() -> Listings:
    """One per provider process (made under a lock: the provider runs 4 threads), so every
    read of a refresh in one account and region shares one listing."""
    watchdog.ensure_started()
    with _lock:
        if not _kept:
            factory = shared_factory()
            _kept.append(
                Listings(
                    lambda role, account_id, region: factory.client("iot", role, account_id, region), factory.writes
                )
            )
        return _kept[0]


def listings() -> Listings:
    """The provider process's listings (a write's reads ask it which listing is fresh enough)."""
    return _listings()


def listing(inputs: Inputs) -> PlaceListing:
    values: Any = inputs
    return _listings().of(values.role_arn, values.account_id, values.region, inputs.where)


def client(service: str, inputs: Any) -> Any:
    """A client of ``service`` in the resource's account and region (IAM's calls are global)."""
    watchdog.ensure_started()
    return shared_factory().client(service, inputs.role_arn, inputs.account_id, inputs.region)
