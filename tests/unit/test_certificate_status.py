"""A certificate's status is an enum whose values are AWS's strings: what fleet writes
(Pulumi state, JSON) is byte for byte what it wrote with plain strings, and a state
written before reads as equal."""

from __future__ import annotations

import json

from fleet.aws.status import CertificateStatus
from fleet.model.declarations import USABLE, Entry, ShardInputs
from tests.unit.shards import group_inputs, shard_inputs


def shard(statuses: dict[str, str]) -> ShardInputs:
    return shard_inputs({"ledger": group_inputs(statuses, pem="archive", source="ledger")})


def test_the_state_is_written_as_with_plain_strings_and_read_back_equal() -> None:
    typed = shard({"a" * 64: CertificateStatus.REVOKED, "ab" * 32: CertificateStatus.ACTIVE})
    plain = shard({"a" * 64: "REVOKED", "ab" * 32: "ACTIVE"})
    assert typed.props() == plain.props()
    assert json.dumps(typed.props(), sort_keys=True) == json.dumps(plain.props(), sort_keys=True)
    assert '"REVOKED"' in typed.props()["groups"]
    assert ShardInputs.of(plain.props()) == typed  # a state written before reads the same


def test_a_status_is_its_aws_string() -> None:
    assert CertificateStatus("PENDING_ACTIVATION") is CertificateStatus.PENDING_ACTIVATION
    assert f"{CertificateStatus.REVOKED}" == str(CertificateStatus.REVOKED) == "REVOKED"
    assert Entry.read("REVOKED").revoked and not Entry.read("ACTIVE; no thing").revoked
    drifted = Entry(CertificateStatus.INACTIVE, missing=("telemetry",))
    assert json.dumps(drifted.stored()) == '{"status": "INACTIVE", "not_attached": ["telemetry"]}'
    assert drifted.text() == "INACTIVE; not attached: telemetry"
    assert "ACTIVE" in USABLE and "REVOKED" not in USABLE
