"""One device-certificate shard's inputs, as the program declares them, for the provider's unit tests:
the place (account prod, 111111111111, us-east-1) is the same in every test; what differs is given."""

from __future__ import annotations

from fleet.model.declarations import GroupInputs, ShardInputs, Stored

ACCOUNT_ID, REGION = "111111111111", "us-east-1"


def group_inputs(
    certificates: dict[str, Stored],
    *,
    ca: str | None = None,
    ca_id: str | None = None,
    pem: str = "devices",
    policies: tuple[str, ...] = (),
    source: str = "manifests/devices.yaml:5",
) -> GroupInputs:
    return GroupInputs(
        ca=ca, ca_id=ca_id, pem=pem, policies=policies, things="none", source=source, certificates=certificates
    )


def shard_inputs(
    groups: dict[str, GroupInputs], *, shard: str = "a", policies: tuple[str, ...] = (), cas: tuple[str, ...] = ()
) -> ShardInputs:
    return ShardInputs(
        account="prod",
        account_id=ACCOUNT_ID,
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/r",
        region=REGION,
        shard=shard,
        policies=policies,
        cas=cas,
        groups=groups,
    )
