"""A certificate's status is an enum whose values are AWS's strings: what fleet writes
(Pulumi state, JSON) is byte for byte what it wrote with plain strings, and a state
written before reads as equal."""

from __future__ import annotations

import json

from fleet.aws.status import CertificateStatus
from fleet.model.declarations import USABLE, Entry, GroupInputs, ShardInputs


def shard(statuses: dict[str, str]) -> ShardInputs:
    group = GroupInputs(
        ca=None, ca_id=None, pem="archive", policies=(), things="none", source="ledger", certificates=statuses
    )
    return ShardInputs(
        account="prod",
        account_id="111111111111",
        role_arn="arn:aws:iam::111111111111:role/r",
        region="us-east-1",
        shard="a",
        policies=(),
        cas=(),
        groups={"ledger": group},
    )


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
    assert Entry.decode("REVOKED").revoked and not Entry.decode("ACTIVE; no thing").revoked
    assert Entry(CertificateStatus.INACTIVE, missing=("telemetry",)).encode() == "INACTIVE; not attached: telemetry"
    assert "ACTIVE" in USABLE and "REVOKED" not in USABLE
