"""Whether a certificate group is fleet's to remove from AWS once nothing declares it:
one rule, asked alike by the device-certificate provider (its delete and its update's
retirements) and by `fleet review` (what it reads and reports as retired).

Manifest groups are fleet's. The revocation ledger's groups (``ledger``, and
``ledger:<CA>`` for records kept under a CA placed there: fleet.program.resources) are REVOKED
records that only grow; auto_activation's (``auto:<CA>``) are devices in use. Neither is
fleet's to remove.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.manifest.groups import GroupKind, GroupName, group_name, owned
from fleet.model.declarations import GroupInputs, ShardInputs
from fleet.providers import device_certificates
from fleet.providers.device_certificates import DeviceCertificatesProvider
from fleet.providers.registry import RunRegistry
from fleet.reports.review import readings
from tests.unit.shards import group_inputs, shard_inputs

CA_ID = "cd" * 32
# group name as the program writes it -> whether fleet removes its certificates
GROUPS = {"sensors": True, "ledger": False, "ledger:root": False, "auto:root": False}


def group(n: int, status: str) -> GroupInputs:
    return group_inputs({f"a{n}" + "0" * 62: status}, ca="root", ca_id=CA_ID)


def shard(names: dict[str, bool] | None = None) -> ShardInputs:
    groups = {
        name: group(n, "ACTIVE" if name == "sensors" else "REVOKED")
        for n, name in enumerate(GROUPS if names is None else names)
    }
    return shard_inputs(groups, cas=(CA_ID,))


def owned_fingerprints(recorded: ShardInputs) -> set[str]:
    return {fp for name, g in recorded.groups.items() if GROUPS[name] for fp in g.certificates}


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_each_kind_of_group_is_owned_or_not_by_the_one_rule(name: str) -> None:
    recorded = shard()
    assert recorded.owns(recorded.groups[name]) is GROUPS[name], name


def test_an_update_retires_only_what_fleet_owns() -> None:
    had = shard()
    _todo, removed = shard({}).work(had)
    assert removed == owned_fingerprints(had)


def test_the_providers_delete_retires_only_what_fleet_owns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_certificates, "REGISTRY", RunRegistry())
    looked_at: list[list[str]] = []

    class Live:
        certificates: dict[str, Any] = {}

        @classmethod
        def read(cls, _api: object, _recorded: ShardInputs, fingerprints: list[str], **_how: bool) -> Live:
            looked_at.append(fingerprints)
            return cls()

    monkeypatch.setattr(device_certificates, "Live", Live)
    monkeypatch.setattr(device_certificates, "iot_client", lambda _recorded: None)
    monkeypatch.setattr(device_certificates, "Certificates", lambda *_args: None)
    recorded = shard()
    DeviceCertificatesProvider().delete("id", recorded.props())
    assert [set(fps) for fps in looked_at] == [owned_fingerprints(recorded)]


def test_the_review_reads_for_retirement_only_what_fleet_owns() -> None:
    """A deleted shard: the review reads in AWS what the provider's delete retires, and only that."""
    recorded = shard()
    step = {
        "op": "delete",
        "urn": "urn:pulumi:prod::fleet::pulumi-python:dynamic/fleet:DeviceCertificates::certs.prod.us-east-1.a",
        "oldState": {"outputs": recorded.props()},
    }
    plan = json.dumps({"steps": [step], "diagnostics": [], "duration": 0})
    [reading] = readings(plan)
    assert set(reading.wanted) == owned_fingerprints(recorded)


@pytest.mark.parametrize(
    ("text", "kind", "name", "label"),
    [
        ("sensors", GroupKind.MANIFEST, "sensors", "sensors"),
        ("ledger", GroupKind.LEDGER, None, "revocation ledger"),
        ("ledger:root", GroupKind.LEDGER, "root", "revocation ledger (CA root)"),
        ("auto:root", GroupKind.AUTOMATIC, "root", "auto_activation under root"),
    ],
)
def test_a_group_name_reads_as_its_kind_and_back(text: str, kind: GroupKind, name: str | None, label: str) -> None:
    read = GroupName.parse(text)
    assert (read.kind, read.name, read.label) == (kind, name, label)
    assert group_name(kind, name) == str(read) == text  # what the state records, as before
    assert owned(kind) is GROUPS[text]
