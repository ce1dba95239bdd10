"""A change costs what it changes: the calls the device-certificate provider makes to change a
few certificates of a large place, counted against an in-process AWS IoT.

The reads before a write are chosen for the account and region as a whole (one listing every
shard of the place shares, or per-certificate reads when the place's change is small); a
certificate to be revoked is read for its status only; the read after a write never comes from
a listing begun before it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleet.aws.listing import Listings
from fleet.model.declarations import ShardInputs, shard_of
from fleet.providers import device_certificates, target
from fleet.providers.device_certificates import DeviceCertificatesProvider
from fleet.providers.registry import RunRegistry
from tests.unit.shards import ACCOUNT_ID, REGION, group_inputs, shard_inputs

POLICY = "telemetry"
WRITES = ("UpdateCertificate", "AttachPolicy", "DetachPolicy", "RegisterCertificate", "DeleteCertificate")


def arn(fp: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT_ID}:cert/{fp}"


class FakeIot:
    """AWS IoT's certificate calls over a dict, each call (each page) counted."""

    def __init__(self, statuses: dict[str, str]):
        self.statuses = dict(statuses)
        self.targets = {POLICY: {arn(fp) for fp in statuses}}
        self.calls: Counter[str] = Counter()
        self.writes = 0

    def get_paginator(self, operation: str) -> Any:
        return _Paginator(self, operation)

    def describe_certificate(self, certificateId: str) -> dict[str, Any]:  # noqa: N803 (AWS's names)
        self.calls["DescribeCertificate"] += 1
        if certificateId not in self.statuses:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "DescribeCertificate")
        return {
            "certificateDescription": {
                "certificateId": certificateId,
                "certificateArn": arn(certificateId),
                "status": self.statuses[certificateId],
            }
        }

    def update_certificate(self, certificateId: str, newStatus: str) -> dict[str, Any]:  # noqa: N803
        self.calls["UpdateCertificate"] += 1
        self.writes += 1
        assert self.statuses[certificateId] != "REVOKED", "a revoked certificate is never set to another status"
        self.statuses[certificateId] = newStatus
        return {}


class _Paginator:
    def __init__(self, iot: FakeIot, operation: str):
        self._iot, self._operation = iot, operation

    def paginate(self, **request: Any) -> Iterator[dict[str, Any]]:
        iot, size = self._iot, request.get("pageSize", 250)
        if self._operation == "list_certificates":
            items: list[Any] = [
                {"certificateId": fp, "certificateArn": arn(fp), "status": s} for fp, s in sorted(iot.statuses.items())
            ]
            key, name = "certificates", "ListCertificates"
        elif self._operation == "list_targets_for_policy":
            items, key, name = sorted(iot.targets[request["policyName"]]), "targets", "ListTargetsForPolicy"
        elif self._operation == "list_attached_policies":
            held = [p for p, arns in iot.targets.items() if request["target"] in arns]
            items, key, name = [{"policyName": p} for p in held], "policies", "ListAttachedPolicies"
        else:
            raise AssertionError(f"not faked: {self._operation}")
        for start in range(0, max(1, len(items)), size):
            iot.calls[name] += 1
            yield {key: items[start : start + size]}


def fingerprints(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


def shards(statuses: dict[str, str], revoked: set[str] = frozenset()) -> dict[str, ShardInputs]:  # type: ignore[assignment]
    """The place's 16 resources: the certificates in ``revoked`` in a REVOKED group, the rest ACTIVE."""
    found = {}
    for shard in "0123456789abcdef":
        mine = {fp for fp in statuses if shard_of(fp) == shard}
        groups = {
            "line": group_inputs(
                {fp: "ACTIVE" for fp in sorted(mine - revoked)}, policies=(POLICY,), source="manifests/fleet.yaml:3"
            )
        }
        if mine & revoked:
            groups["line-revoked"] = group_inputs(
                {fp: "REVOKED" for fp in sorted(mine & revoked)}, pem="devices-revoked", source="manifests/fleet.yaml:9"
            )
        found[shard] = shard_inputs(groups, shard=shard, policies=(POLICY,))
    return found


@pytest.fixture
def place(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A provider process of its own, over a fake AWS IoT: returns a function that runs an update of
    every shard of one place, 4 at a time as the engine's provider does, and returns its calls."""
    monkeypatch.setattr(device_certificates, "REGISTRY", RunRegistry())
    monkeypatch.setenv("FLEET_PROGRESS_SECONDS", "3600")

    def run(iot: FakeIot, had: dict[str, ShardInputs], want: dict[str, ShardInputs]) -> Counter[str]:
        monkeypatch.setattr(device_certificates, "iot_client", lambda _inputs: iot)
        monkeypatch.setattr(target, "_kept", [Listings(lambda *_: iot, lambda *_: iot.writes)])
        provider = DeviceCertificatesProvider()
        for shard in want:  # the engine checks each resource as the program declares it
            assert provider.check(had[shard].props(), want[shard].props()).failures == []
        iot.calls.clear()
        with ThreadPoolExecutor(max_workers=4) as pool:
            done = [
                pool.submit(provider.update, want[s].resource_name, had[s].props(), want[s].props())
                for s in want
                if had[s] != want[s]
            ]
            for future in done:
                future.result()
        return iot.calls

    return run


def test_revoking_one_percent_of_a_place_reads_one_shared_listing_and_each_written_status(place: Any) -> None:
    statuses = dict.fromkeys(fingerprints(4000), "ACTIVE")
    revoked = set(sorted(statuses)[::100])  # 40, spread over the 16 shards
    iot = FakeIot(statuses)
    calls = place(iot, shards(statuses), shards(statuses, revoked))
    assert {fp for fp, s in iot.statuses.items() if s == "REVOKED"} == revoked
    pages = 4000 // 250
    # Before: one listing of the place for all 16 shards (not a describe and a policy listing per certificate).
    # After: each written certificate's status, read again (a listing begun before the writes cannot say).
    assert calls == {"UpdateCertificate": 40, "ListCertificates": pages, "DescribeCertificate": 40}
    assert sum(calls.values()) <= 2 * len(revoked) + pages  # was 200: 40 writes, 4 reads per certificate


def test_a_small_change_in_a_large_place_reads_one_by_one(place: Any) -> None:
    statuses = dict.fromkeys(fingerprints(4000), "ACTIVE")
    revoked = set(sorted(statuses)[:3])
    iot = FakeIot(statuses)
    calls = place(iot, shards(statuses), shards(statuses, revoked))
    assert {fp for fp, s in iot.statuses.items() if s == "REVOKED"} == revoked
    # A status before and after each: no listing of 16 pages, and no policies (a revoked certificate needs none).
    assert calls == {"UpdateCertificate": 3, "DescribeCertificate": 6}


def test_a_listing_begun_before_a_write_never_serves_the_read_after_it() -> None:
    made: list[str] = []
    listings = Listings(lambda *_: made.append("client"), lambda *_: 0)
    where = ("arn:aws:iam::111111111111:role/r", ACCOUNT_ID, REGION, "prod")
    before = listings.converging(*where, ["a1", "b2"], make=True)
    assert before is not None
    assert listings.converging(*where, ["b2"], make=False) is before  # another shard's read, before any write
    listings.wrote(ACCOUNT_ID, REGION, ["a1"])
    assert listings.converging(*where, ["b2"], make=False) is before  # b2 was not written since
    assert listings.converging(*where, ["a1"], make=False) is None  # a1 was: read it one by one, or list again
    after = listings.converging(*where, ["a1"], make=True)
    assert after is not None and after is not before
    assert listings.converging(*where, ["a1", "b2"], make=False) is after


def test_the_refreshs_listing_serves_the_reads_before_the_writes() -> None:
    writes = [0]
    listings = Listings(lambda *_: None, lambda *_: writes[0])
    where = ("arn:aws:iam::111111111111:role/r", ACCOUNT_ID, REGION, "prod")
    refreshed = listings.of(*where)
    assert listings.converging(*where, ["a1"], make=True) is refreshed
    writes[0] += 1  # a write anywhere in the place: the next refresh read lists again
    listings.wrote(ACCOUNT_ID, REGION, ["a1"])
    assert listings.of(*where) is not refreshed
