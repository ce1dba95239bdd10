"""fleet.providers.pulumi_compat on both ends of the supported range (marked
`oldest`: run on 3.79.0 too): thousands of fleet resources can be constructed
in one program (pulumi's serializer leaves pickle patched, and fleet's base
resource undoes it), and reads carry inputs exactly where the SDK takes them."""

from __future__ import annotations

import importlib.metadata
import pickle
from typing import Any

import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from fleet.model.declarations import PolicyInputs
from fleet.providers.policy import IotPolicy
from fleet.providers.pulumi_compat import READ_TAKES_INPUTS
from fleet.providers.resource import read_result

pytestmark = pytest.mark.oldest


class ProviderWithState(ResourceProvider):
    def __init__(self) -> None:
        self.settings = {"a": 1}


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the engine registration is skipped; pulumi's real serializer runs."""
    monkeypatch.setattr("pulumi.CustomResource.__init__", lambda self, *args, **kwargs: None)


def test_constructing_3000_resources_leaves_pickle_as_it_was(no_engine: Any) -> None:
    pickler: Any = pickle._Pickler  # noqa: SLF001
    before = (pickler._batch_setitems, pickler.save_dict)
    declared = PolicyInputs(
        policy="p",
        account="prod",
        account_id="111111111111",
        region="us-east-1",
        role_arn="arn:aws:iam::111111111111:role/r",
        document="{}",
        source="x:1",
    )
    for _ in range(3000):
        IotPolicy(declared)
    assert (pickler._batch_setitems, pickler.save_dict) == before
    serialize_provider(ProviderWithState())  # pickles a dict: would recurse if the chain had grown


def test_without_the_fix_pulumis_serializer_recurses() -> None:
    pickler: Any = pickle._Pickler  # noqa: SLF001
    saved = (pickler._batch_setitems, pickler.save_dict)
    try:
        with pytest.raises(RecursionError):
            for _ in range(3000):
                serialize_provider(ProviderWithState())
    finally:
        pickler._batch_setitems, pickler.save_dict = saved


def test_reads_carry_inputs_exactly_where_the_sdk_takes_them() -> None:
    sdk = tuple(int(part) for part in importlib.metadata.version("pulumi").split(".")[:2])
    assert READ_TAKES_INPUTS == (sdk > (3, 79))
    read = read_result("id", {"status": "ACTIVE"}, facts={"seen": "x"})
    assert read.outs == {"status": "ACTIVE", "seen": "x"}
    assert getattr(read, "inputs", None) == ({"status": "ACTIVE"} if READ_TAKES_INPUTS else None)
