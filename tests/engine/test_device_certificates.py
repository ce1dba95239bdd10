"""Device certificates and policies through the real Pulumi engine, and the
rule that a revoked certificate is never reactivated, by any path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.pki import Issued, issue
from devtools.pulumi_cli import ENGINE, scratch_project
from fleet.crypto import pki
from tests.conftest import record_ledger
from tests.engine.conftest import Fleet
from tests.engine.entry_display import shows

pytestmark = pytest.mark.engine

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": "arn:aws:iot:{{region}}:{{account_id}}:topic/t/*"}
    ],
}
DEVICES = """\
policies:
  telemetry:
    document: telemetry.json

device_certificates:
  line-1:
    ca: root
    certificates: devices
    policies: [telemetry]
    exceptions:
      - certificate: devices/device-2.pem
        status: REVOKED
        revocation: {reason: key leaked, date: 2026-11-01}
"""


class Devices:
    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self.certs: list[Issued] = []
        for n in range(4):
            cert = issue(fleet.root, f"device-{n}")
            cert.write(fleet.manifests.root / "devices" / f"device-{n}.pem")
            self.certs.append(cert)
        fleet.manifests.text("telemetry.json", json.dumps(POLICY))
        fleet.manifests.text("devices.yaml", DEVICES)
        record_ledger(fleet.manifests)  # device-2's revocation, as `fleet record-revocations` writes it

    def fingerprint(self, n: int) -> str:
        return pki.certificate_id(self.certs[n].cert)

    def status(self, n: int, account: str = "prod", region: str = "us-east-1") -> str | None:
        iot = self.fleet.iot(account, region)
        try:
            return str(iot.describe_certificate(certificateId=self.fingerprint(n))["certificateDescription"]["status"])
        except iot.exceptions.ResourceNotFoundException:
            return None


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


def test_up_registers_the_group_with_its_statuses_and_policies(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    for region in ("us-east-1", "eu-west-1"):
        assert [devices.status(n, region=region) for n in range(4)] == ["ACTIVE", "ACTIVE", "REVOKED", "ACTIVE"]
    iot = fleet.iot("prod")
    targets = iot.list_targets_for_policy(policyName="telemetry")["targets"]
    assert len(targets) == 3  # the revoked one gets no policy
    document = json.loads(iot.get_policy(policyName="telemetry")["policyDocument"])
    assert document["Statement"][0]["Resource"] == "arn:aws:iot:us-east-1:111111111111:topic/t/*"


def test_certificates_are_spread_over_sixteen_resources_per_region_by_fingerprint(
    devices: Devices, fleet: Fleet
) -> None:
    fleet.project.up()
    shards = {
        r["urn"].split("::")[-1]: r
        for r in fleet.project.state()["deployment"]["resources"]
        if r["type"] == "pulumi-python:dynamic/fleet:DeviceCertificates"
    }
    # 16 per account and region fleet manages (3 here), whatever the number of certificates.
    assert len(shards) == 16 * 3
    # Each shard's groups are one compact JSON text in the state, not a map per certificate.
    groups = {name: json.loads(r["outputs"]["groups"]) for name, r in shards.items()}
    for n in range(4):
        fp = devices.fingerprint(n)
        for region in ("us-east-1", "eu-west-1"):
            holder = groups[f"certs.prod.{region}.{fp[0]}"]["line-1"]["certificates"]
            assert holder[fp] == ("REVOKED" if n == 2 else "ACTIVE")
    held = [fp for shard in groups.values() for group in shard.values() for fp in group["certificates"]]
    assert len(held) == 8  # each certificate once per region, in the one resource of its first hex digit


def test_no_pem_reaches_the_state(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    state = fleet.project.state_text()
    for cert in devices.certs:
        body = cert.cert_pem.splitlines()[2]
        assert body not in state
    assert devices.fingerprint(0) in state


def test_a_drift_check_costs_list_calls_never_one_per_certificate(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    before = fleet.aws.calls()
    fleet.project.preview("--refresh", "--expect-no-changes")
    after = fleet.aws.calls()
    used = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # The test fleet: 3 account-regions, 4 CA placements, 2 policy placements; everything fits one page.
    # The program's look for the guard: a listing per account and region, each CA described. The
    # refresh: one listing per account and region shared by all 48 certificate resources there, a
    # listing per CA placement (certificates under it that nothing declares), and each CA and policy read.
    assert {k: v for k, v in used.items() if k.startswith("iot:")} == {
        "iot:ListCertificates": 3 + 3,
        "iot:ListCertificatesByCA": 4,
        "iot:DescribeCACertificate": 4 + 4,
        "iot:GetPolicy": 2,
        "iot:ListPolicyVersions": 2,
        "iot:ListTargetsForPolicy": 2,
    }
    assert fleet.aws.writes() == {k: v for k, v in before.items() if k in fleet.aws.writes()}


@pytest.mark.oldest
def test_flipping_a_revoked_certificate_to_active_is_refused_at_preview(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    writes = fleet.aws.writes()
    fleet.edit(
        "        status: REVOKED\n        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "        status: ACTIVE\n",
        filename="devices.yaml",
    )

    for run in (fleet.project.preview, fleet.project.up):
        refused = run(ok=(ENGINE.failed,))
        assert (
            f"certificate {devices.fingerprint(2)} (devices/device-2.pem) is declared ACTIVE at "
            "manifests/devices.yaml:11" in refused.output
        )
        assert "revoked on" in refused.output and "never reactivated" in refused.output
    assert fleet.aws.writes() == writes
    assert devices.status(2) == "REVOKED"


@pytest.mark.oldest
def test_deleting_the_entry_and_adding_it_back_is_refused(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    revoked_pem = fleet.manifests.root / "devices" / "device-2.pem"
    kept = revoked_pem.read_text()
    revoked_pem.unlink()
    fleet.edit(
        "    exceptions:\n      - certificate: devices/device-2.pem\n        status: REVOKED\n"
        "        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "",
        filename="devices.yaml",
    )
    fleet.project.up()
    assert devices.status(2) == "REVOKED"  # removed from the manifests, still revoked in AWS

    revoked_pem.write_text(kept)  # back, under the group's ACTIVE
    refused = fleet.project.preview(ok=(ENGINE.failed,))
    assert f"certificate {devices.fingerprint(2)} (devices/device-2.pem) is declared ACTIVE" in refused.output
    assert "in account prod (111111111111)" in refused.output and "never reactivated" in refused.output
    assert devices.status(2) == "REVOKED"


@pytest.mark.oldest
def test_another_name_account_or_region_without_a_ca_is_refused(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    moved = fleet.manifests.root / "elsewhere" / "device-2.pem"
    moved.parent.mkdir()
    (fleet.manifests.root / "devices" / "device-2.pem").rename(moved)
    fleet.edit(
        "    exceptions:\n      - certificate: devices/device-2.pem\n        status: REVOKED\n"
        "        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "  second-life:\n    certificates: elsewhere\n    placements: [{account: staging}]\n",
        filename="devices.yaml",
    )
    refused = fleet.project.preview(ok=(ENGINE.failed,))
    assert f"certificate {devices.fingerprint(2)} (elsewhere/device-2.pem) is declared ACTIVE" in refused.output
    assert devices.status(2, account="staging") is None


@pytest.mark.oldest
def test_a_new_stack_cannot_reactivate_either(devices: Devices, fleet: Fleet, tmp_path: Path) -> None:
    fleet.project.up()
    fleet.edit(
        "        status: REVOKED\n        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "        status: ACTIVE\n",
        filename="devices.yaml",
    )
    fresh = scratch_project(tmp_path / "fresh", tmp_path / "fresh-state", stack="lost", **fleet.project.extra_env)
    fresh.init(fleet.manifests.root)
    refused = fresh.preview(ok=(ENGINE.failed,))
    assert f"certificate {devices.fingerprint(2)}" in refused.output and "never reactivated" in refused.output
    assert devices.status(2) == "REVOKED"


@pytest.mark.oldest
def test_a_revoked_certificate_back_through_just_in_time_registration_is_revoked_again(
    devices: Devices, fleet: Fleet
) -> None:
    fleet.project.up()
    iot = fleet.iot("prod")
    iot.delete_certificate(certificateId=devices.fingerprint(2))  # someone deletes the revoked record by hand...
    # ...and the stolen device connects: AWS registers it again, PENDING_ACTIVATION (JITR).
    iot.register_certificate(
        certificatePem=devices.certs[2].cert_pem, caCertificatePem=fleet.root.cert_pem, status="PENDING_ACTIVATION"
    )
    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    shard = f"certs.prod.us-east-1.{devices.fingerprint(2)[0]}"
    assert f"DeviceCertificates::{shard}]" in drift.output
    if ENGINE.names_drifted_keys:
        # AWS's PENDING_ACTIVATION, the state's memory of the revocation, against the declared REVOKED
        remembered = {"status": "PENDING_ACTIVATION", "was_revoked": True}
        assert shows(drift.output, "-", devices.fingerprint(2), remembered)
        assert shows(drift.output, "+", devices.fingerprint(2), "REVOKED")
    fleet.project.up("--refresh")
    assert devices.status(2) == "REVOKED"


def test_removing_certificates_deactivates_detaches_and_deletes_but_leaves_revoked_ones(
    devices: Devices, fleet: Fleet
) -> None:
    fleet.project.up()
    for n in (0, 2):
        (fleet.manifests.root / "devices" / f"device-{n}.pem").unlink()
    fleet.edit(
        "    exceptions:\n      - certificate: devices/device-2.pem\n        status: REVOKED\n"
        "        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "",
        filename="devices.yaml",
    )
    fleet.project.up()
    assert devices.status(0) is None and devices.status(2) == "REVOKED" and devices.status(1) == "ACTIVE"
    assert len(fleet.iot("prod").list_targets_for_policy(policyName="telemetry")["targets"]) == 2


def test_a_policy_change_becomes_the_one_default_version_and_stays_attached(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    for n in range(6):
        POLICY["Statement"][0]["Resource"] = f"arn:aws:iot:{{{{region}}}}:{{{{account_id}}}}:topic/v{n}/*"
        fleet.manifests.text("telemetry.json", json.dumps(POLICY))
        fleet.project.up()
    iot = fleet.iot("prod")
    versions = iot.list_policy_versions(policyName="telemetry")["policyVersions"]
    assert [v["isDefaultVersion"] for v in versions] == [True]  # fleet keeps one: the declared document
    assert "topic/v5/*" in iot.get_policy(policyName="telemetry")["policyDocument"]
    assert len(iot.list_targets_for_policy(policyName="telemetry")["targets"]) == 3  # never detached
    assert "iot:DeletePolicy" not in fleet.aws.writes()  # versions, never a delete and re-create


def test_certificates_are_attached_to_the_thing_named_by_their_common_name(devices: Devices, fleet: Fleet) -> None:
    fleet.edit(
        "    policies: [telemetry]\n", "    policies: [telemetry]\n    things: common-name\n", filename="devices.yaml"
    )
    fleet.project.up()
    iot = fleet.iot("prod")
    arn = f"arn:aws:iot:us-east-1:111111111111:cert/{devices.fingerprint(0)}"
    assert iot.list_thing_principals(thingName="device-0")["principals"] == [arn]
    fleet.project.preview("--refresh", "--expect-no-changes")

    # Detached by hand: drift, named by the refreshed preview, then attached again by `pulumi up`.
    iot.detach_thing_principal(thingName="device-0", principal=arn)
    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert f"DeviceCertificates::certs.prod.us-east-1.{devices.fingerprint(0)[0]}]" in drift.output
    if ENGINE.names_drifted_keys:
        assert shows(drift.output, "-", devices.fingerprint(0), {"status": "ACTIVE", "thingless": True})
        assert shows(drift.output, "+", devices.fingerprint(0), "ACTIVE")
    report = subprocess.run(
        [sys.executable, "-m", "fleet", "drift", "--json", "-m", str(fleet.manifests.root)],
        env=fleet.project.env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert report.returncode == 7 and json.loads(report.stdout)["counts"] == {"thing-detached": 1}, report.stderr
    fleet.project.up("--refresh")
    assert iot.list_thing_principals(thingName="device-0")["principals"] == [arn]
    fleet.project.preview("--refresh", "--expect-no-changes")

    (fleet.manifests.root / "devices" / "device-0.pem").unlink()
    fleet.project.up()  # detach from the thing, then delete: AWS refuses the other order
    assert devices.status(0) is None
    assert iot.list_thing_principals(thingName="device-0")["principals"] == []


def test_renaming_a_group_keeps_its_certificates_registered_and_active(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.edit("  line-1:\n", "  line-one:\n", filename="devices.yaml")
    fleet.project.up()  # the new group adopts them; the old one's delete must not retire them
    for region in ("us-east-1", "eu-west-1"):
        assert [devices.status(n, region=region) for n in range(4)] == ["ACTIVE", "ACTIVE", "REVOKED", "ACTIVE"]
    assert len(fleet.iot("prod").list_targets_for_policy(policyName="telemetry")["targets"]) == 3
    assert "iot:DeleteCertificate" not in fleet.aws.writes()  # never retired, not even for a moment
    fleet.project.preview("--refresh", "--expect-no-changes")


def test_moving_a_certificate_to_another_group_keeps_it_active(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    moved = fleet.manifests.root / "line-2" / "device-0.pem"
    moved.parent.mkdir()
    (fleet.manifests.root / "devices" / "device-0.pem").rename(moved)
    fleet.manifests.text("line-2.yaml", "device_certificates:\n  line-2:\n    ca: root\n    certificates: line-2\n")
    fleet.project.up()
    assert devices.status(0) == "ACTIVE" and devices.status(0, region="eu-west-1") == "ACTIVE"
    assert "iot:DeleteCertificate" not in fleet.aws.writes()
    fleet.project.preview("--refresh", "--expect-no-changes")


@pytest.mark.oldest
def test_a_policy_changed_by_hand_is_drift_and_is_put_back(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    iot = fleet.iot("prod")
    iot.create_policy_version(
        policyName="telemetry",
        setAsDefault=True,
        policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
        ),
    )
    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert "IotPolicy::policy.telemetry.prod.us-east-1]" in drift.output
    fleet.project.up("--refresh")
    assert (
        json.loads(iot.get_policy(policyName="telemetry")["policyDocument"])["Statement"][0]["Action"] == "iot:Publish"
    )
    # The README's promise: the version made by hand is deleted, not left behind as a non-default one.
    versions = iot.list_policy_versions(policyName="telemetry")["policyVersions"]
    assert [v["isDefaultVersion"] for v in versions] == [True], versions
    fleet.project.preview("--refresh", "--expect-no-changes")


@pytest.mark.oldest
def test_status_drift_by_hand_is_detected_and_corrected(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.iot("prod").update_certificate(certificateId=devices.fingerprint(0), newStatus="INACTIVE")
    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert f"DeviceCertificates::certs.prod.us-east-1.{devices.fingerprint(0)[0]}]" in drift.output
    if ENGINE.names_drifted_keys:
        assert f'{devices.fingerprint(0)}: "INACTIVE" => "ACTIVE"' in drift.output
    fleet.project.up("--refresh")
    assert devices.status(0) == "ACTIVE"
    fleet.project.preview("--refresh", "--expect-no-changes")


@pytest.mark.oldest
def test_a_revocation_by_hand_is_never_undone(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.iot("prod").update_certificate(certificateId=devices.fingerprint(1), newStatus="REVOKED")
    for run in (fleet.project.preview, fleet.project.up):
        refused = run("--refresh", ok=(ENGINE.failed,))
        assert f"certificate {devices.fingerprint(1)}" in refused.output and "never reactivated" in refused.output
    assert devices.status(1) == "REVOKED"
