"""The device-certificate provider's own refusal, independent of the program's
guard: a check from a recorded REVOKED to anything else fails, naming the
certificate and the manifest line (so does every write path); and its diff
sees what changed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.model.declarations import Entry, ShardInputs, Stored
from fleet.providers import device_certificates
from fleet.providers.device_certificates import DeviceCertificatesProvider, remembering_revocations
from fleet.providers.failures import ProviderFailure
from fleet.providers.pulumi_compat import READ_TAKES_INPUTS
from fleet.providers.registry import RunRegistry
from fleet.revocation.state_records import _recorded
from tests.unit.shards import group_inputs, shard_inputs

FP = "ab" * 32


def props(status: Stored) -> dict[str, Any]:
    group = group_inputs({FP: status}, ca="root", ca_id="cd" * 32, policies=("telemetry",))
    return shard_inputs({"line-1": group}, policies=("telemetry",), cas=("cd" * 32,)).props()


@pytest.fixture(autouse=True)
def fresh_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a run of its own: nothing declared yet."""
    monkeypatch.setattr(device_certificates, "REGISTRY", RunRegistry())


def refused(new_status: str) -> str:
    return (
        f"certificate {FP} (group line-1) is declared {new_status} at manifests/devices.yaml:5, but it was "
        "revoked at an unknown date in account prod (111111111111), us-east-1; a revoked certificate is never "
        "reactivated. Adopt the revocation: set it REVOKED in the manifests, with its revocation (reason, date)."
    )


@pytest.mark.parametrize("new_status", ["ACTIVE", "INACTIVE"])
def test_check_refuses_to_move_a_recorded_revocation(new_status: str) -> None:
    checked = DeviceCertificatesProvider().check(props("REVOKED"), props(new_status))
    assert [(f.property, f.reason) for f in checked.failures] == [("", refused(new_status))]
    assert checked.inputs == props(new_status)


def test_check_passes_a_new_resource_and_a_revocation_kept() -> None:
    assert DeviceCertificatesProvider().check({}, props("ACTIVE")).failures == []
    assert DeviceCertificatesProvider().check(props("REVOKED"), props("REVOKED")).failures == []
    assert DeviceCertificatesProvider().check(props("ACTIVE"), props("REVOKED")).failures == []


@pytest.mark.parametrize("new_status", ["ACTIVE", "INACTIVE"])
def test_update_refuses_a_recorded_revocation_before_any_aws_call(new_status: str) -> None:
    # No endpoint answers here (the autouse guard): a call to AWS would fail otherwise.
    with pytest.raises(ProviderFailure) as caught:
        DeviceCertificatesProvider().update("id", props("REVOKED"), props(new_status))
    assert str(caught.value) == refused(new_status)


def test_diff_refuses_only_where_check_cannot_see_what_a_refresh_recorded() -> None:
    """pulumi 3.79: reads return no inputs, so check sees the last declaration and diff the recorded
    outputs. Later SDKs: diff only compares (newer engines diff while refreshing, before the program)."""
    provider = DeviceCertificatesProvider()
    provider.check({}, props("ACTIVE"))  # the program declares it, as the engine checks before it diffs
    if READ_TAKES_INPUTS:
        assert provider.diff("id", props("REVOKED"), props("ACTIVE")).changes is None
    else:
        with pytest.raises(ProviderFailure, match="a revoked certificate is never reactivated"):
            provider.diff("id", props("REVOKED"), props("ACTIVE"))


def test_a_refresh_diffs_what_aws_has_against_the_recorded_inputs_without_refusing() -> None:
    """A refresh (pulumi >= 3.259) diffs before the program declares anything: a revocation made by
    hand is read, not refused; the check and the program's guard judge the declaration after."""
    assert DeviceCertificatesProvider().diff("id", props("REVOKED"), props("ACTIVE")).changes in (None, True)


def test_a_refresh_diff_of_a_revocation_made_by_hand_is_no_declaration_to_refuse() -> None:
    """pulumi's refresh diffs the recorded inputs (ACTIVE) against what AWS has (REVOKED by
    hand) before the program runs: the manifests may well say REVOKED by now."""
    DeviceCertificatesProvider().diff("id", props("REVOKED"), props("ACTIVE"))


def test_diff_sees_a_status_change_and_no_change() -> None:
    provider = DeviceCertificatesProvider()
    # Where reads refresh the inputs, the engine diffs them itself (changes unknown); else the provider answers.
    expected_change = None if READ_TAKES_INPUTS else True
    assert provider.diff("id", props("ACTIVE"), props("INACTIVE")).changes is expected_change
    assert provider.diff("id", props("ACTIVE"), props("REVOKED")).changes is expected_change
    assert provider.diff("id", props("ACTIVE"), props("ACTIVE")).changes is False


@pytest.mark.parametrize(
    "entry",
    [
        Entry("ACTIVE"),
        Entry("ABSENT"),
        Entry("INACTIVE", missing=("telemetry",)),
        Entry("ACTIVE", missing=("a", "b"), extra=("c",)),
        Entry("PENDING_ACTIVATION"),
        Entry("ACTIVE", thingless=True),
        Entry("INACTIVE", missing=("a",), extra=("c",), thingless=True),
        Entry("ABSENT", was_revoked=True),
        Entry("ACTIVE", missing=("a",), was_revoked=True),
    ],
)
def test_an_entry_reads_back_as_it_was_written(entry: Entry) -> None:
    assert Entry.read(json.loads(json.dumps(entry.stored()))) == entry  # as the state keeps it
    assert Entry.read(entry.text()) == entry  # as states written before kept it: one line of text


def test_a_certificate_with_its_policies_reads_as_its_bare_status() -> None:
    assert Entry("ACTIVE").stored() == "ACTIVE"
    assert Entry("ACTIVE", missing=("telemetry",)).stored() == {"status": "ACTIVE", "not_attached": ["telemetry"]}
    assert Entry("ABSENT", was_revoked=True).stored() == {"status": "ABSENT", "was_revoked": True}


@pytest.mark.parametrize(
    "value",
    [
        3,
        None,
        ["ACTIVE"],
        {},
        {"status": 3},
        {"status": "ACTIVE", "was_revoked": "yes"},
        {"status": "ACTIVE", "thingless": 1},
        {"status": "ACTIVE", "not_attached": "telemetry"},
        {"status": "ACTIVE", "also_attached": [3]},
        {"status": "ACTIVE", "revoked": True},
    ],
)
def test_an_entry_of_another_shape_is_a_shape_error(value: object) -> None:
    with pytest.raises(TypeError, match="not a certificate's entry"):
        Entry.read(value)
    # A state holding one is a check failure that says so (fleet.providers.failures), never a traceback.
    [failure] = DeviceCertificatesProvider().check(props(value), props("ACTIVE")).failures  # type: ignore[arg-type]
    assert "not a certificate's entry" in failure.reason


def _as_maps(stored: dict[str, Any]) -> dict[str, Any]:
    """The shape states written before groups became JSON text hold: nested maps."""
    return {**stored, "groups": json.loads(stored["groups"]), "unlisted": json.loads(stored["unlisted"])}


def test_a_shards_groups_travel_as_one_compact_text_and_read_back() -> None:
    stored = props("ACTIVE")
    assert isinstance(stored["groups"], str) and isinstance(stored["unlisted"], str)
    assert f'"certificates":{{"{FP}":"ACTIVE"}}' in stored["groups"]  # compact: no spaces, keys sorted
    assert ShardInputs.of(stored).props() == stored
    assert ShardInputs.of(_as_maps(stored)) == ShardInputs.of(stored)  # a state of the earlier shape
    # ...is no change to update: the declaration is the same.
    assert DeviceCertificatesProvider().diff("id", _as_maps(stored), stored).changes is False


def test_a_recorded_revocation_in_a_state_of_the_earlier_shape_is_still_refused() -> None:
    checked = DeviceCertificatesProvider().check(_as_maps(props("REVOKED")), props("ACTIVE"))
    assert [f.reason for f in checked.failures] == [refused("ACTIVE")]


@pytest.mark.parametrize("text", ["{", "[]", '"x"', '{"line-1": 3}', "null", "[" * 100_000 + "]" * 100_000])
def test_groups_that_are_not_json_text_of_maps_are_refused_as_a_shape_error(text: str) -> None:
    with pytest.raises(TypeError):
        ShardInputs.of({**props("ACTIVE"), "groups": text})


def read_over(recorded: Stored, aws_has: str) -> dict[str, Any]:
    """What a refresh records when the state had ``recorded`` and AWS has ``aws_has``."""
    return remembering_revocations(ShardInputs.of(props(aws_has)), ShardInputs.of(props(recorded))).props()


@pytest.mark.parametrize("aws_has", ["ABSENT", "ACTIVE", "INACTIVE", "PENDING_ACTIVATION"])
def test_a_refresh_keeps_a_revocation_the_state_recorded_whatever_aws_has_now(aws_has: str) -> None:
    refreshed = read_over("REVOKED", aws_has)
    assert json.loads(refreshed["groups"])["line-1"]["certificates"] == {FP: {"status": aws_has, "was_revoked": True}}
    assert read_over(Entry(aws_has, was_revoked=True).stored(), aws_has) == refreshed  # the next refresh keeps it too
    assert read_over(f"{aws_has}; was REVOKED", aws_has) == refreshed  # and one over a state written before
    # The provider still refuses to make it usable (at check and before any write), and sees that AWS
    # must be put back.
    assert [f.reason for f in DeviceCertificatesProvider().check(refreshed, props("ACTIVE")).failures] == [
        refused("ACTIVE")
    ]
    with pytest.raises(ProviderFailure, match="a revoked certificate is never reactivated"):
        DeviceCertificatesProvider().update("id", refreshed, props("ACTIVE"))
    assert DeviceCertificatesProvider().diff("id", refreshed, props("REVOKED")).changes is not False


def test_a_refresh_records_no_memory_where_aws_has_it_revoked_or_the_state_never_did() -> None:
    assert read_over("REVOKED", "REVOKED") == props("REVOKED")
    assert read_over("ACTIVE", "ABSENT") == props("ABSENT")
    assert read_over("ACTIVE; was REVOKED", "REVOKED") == props("REVOKED")  # revoked again: plain REVOKED
    assert read_over({"status": "ACTIVE", "was_revoked": True}, "REVOKED") == props("REVOKED")


def test_the_engines_refresh_diff_of_a_remembered_revocation_is_no_reactivation() -> None:
    """Pulumi >= 3.216 diffs a refresh's reading against the inputs the last run recorded, which a
    refresh before it may have written: neither declares the certificate usable."""
    remembered = read_over("REVOKED", "ABSENT")
    assert DeviceCertificatesProvider().diff("id", remembered, remembered).changes is False


def test_every_stacks_recorded_state_still_holds_a_revocation_a_refresh_found_gone() -> None:
    exported = {
        "deployment": {
            "resources": [
                {"type": "pulumi-python:dynamic/fleet:DeviceCertificates", "outputs": read_over("REVOKED", "ABSENT")}
            ]
        }
    }
    assert _recorded("organization/fleet/prod", exported).revoked == {("111111111111", "us-east-1"): {FP}}


def test_an_entry_a_state_holds_in_another_shape_does_not_stop_the_others_being_read() -> None:
    """A hand-edited state: its unreadable entry tells nothing, the revocations beside it still count."""
    outputs = read_over("REVOKED", "ABSENT")
    groups = json.loads(outputs["groups"])
    groups["line-1"]["certificates"]["cd" * 32] = {"status": "REVOKED", "made_up": 1}
    exported = {
        "deployment": {
            "resources": [
                {
                    "type": "pulumi-python:dynamic/fleet:DeviceCertificates",
                    "outputs": {**outputs, "groups": json.dumps(groups)},
                }
            ]
        }
    }
    assert _recorded("organization/fleet/prod", exported).revoked == {("111111111111", "us-east-1"): {FP}}
