"""A revocation no single loss can undo, through the real engine: each class of
attack from issue 8, tried as someone with console access and a careless
reviewer would.

Out of sight: the record is in an account or region the manifests no longer
manage. Erased: the REVOKED record is force-deleted in AWS everywhere, and
another memory is lost or bypassed too (a new stack, the entry removed and
added back, a device re-registering itself, an edited state, two stacks at
once). After each, no revoked certificate is ACTIVE or INACTIVE anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devtools.pki import issue
from devtools.pulumi_cli import ENGINE, PulumiProject, scratch_project
from fleet.crypto import pki
from fleet.jitr.handler import handle
from fleet.manifest import load_fleet
from tests.conftest import record_ledger
from tests.engine.conftest import Fleet
from tests.engine.entry_display import shows
from tests.engine.test_device_certificates import Devices
from tests.jitr_support import config_of, records_on, registration_event

pytestmark = pytest.mark.engine

REGIONS = ("us-east-1", "eu-west-1")
GIT = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}
UNREVOKE = (
    "    exceptions:\n      - certificate: devices/device-2.pem\n        status: REVOKED\n"
    "        revocation: {reason: key leaked, date: 2026-11-01}\n"
)


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


def usable_anywhere(fleet: Fleet, fingerprint: str) -> list[str]:
    """Where AWS has the certificate ACTIVE, INACTIVE or PENDING_ACTIVATION: must stay empty."""
    found = []
    for account, regions in (("prod", REGIONS), ("staging", ("us-east-1",))):
        for region in regions:
            for cert in fleet.iot(account, region).list_certificates()["certificates"]:
                if cert["certificateId"] == fingerprint and cert["status"] != "REVOKED":
                    found.append(f"{account}/{region}: {cert['status']}")
    return found


def erase_records(fleet: Fleet, fingerprint: str) -> None:
    """What an attacker with console access does: force-delete the REVOKED record everywhere."""
    for region in REGIONS:
        iot = fleet.iot("prod", region)
        iot.delete_certificate(certificateId=fingerprint, forceDelete=True)


def status(fleet: Fleet, fingerprint: str, region: str = "us-east-1", account: str = "prod") -> str | None:
    iot = fleet.iot(account, region)
    try:
        return str(iot.describe_certificate(certificateId=fingerprint)["certificateDescription"]["status"])
    except iot.exceptions.ResourceNotFoundException:
        return None


def reactivate_in_manifests(fleet: Fleet) -> None:
    """The pull request: the stolen device-2 declared ACTIVE again (the group's status)."""
    fleet.edit(UNREVOKE, "", filename="devices.yaml")


def forget_ledger(fleet: Fleet) -> None:
    (fleet.manifests.root / "revocations.yaml").unlink()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=GIT)


# --- Out of sight ----------------------------------------------------------------------------


def test_a_record_in_an_account_the_manifests_dropped_still_refuses(devices: Devices, fleet: Fleet) -> None:
    """Revoked by hand (no ledger entry) in staging; the change drops staging and declares it ACTIVE in prod."""
    device = issue(fleet.partner, "partner-device")
    device.write(fleet.manifests.root / "partner-devices" / "d.pem")
    fleet.edit("      - account: staging\n        status: INACTIVE\n", "      - account: staging\n")
    fleet.manifests.text(
        "partner.yaml",
        "device_certificates:\n  partner-line:\n    ca: partner\n"
        "    certificates: partner-devices\n    placements: [{account: staging}]\n",
    )
    fleet.project.up()
    fingerprint = pki.certificate_id(device.cert)
    fleet.iot("staging").update_certificate(certificateId=fingerprint, newStatus="REVOKED")
    writes = fleet.aws.writes()

    fleet.edit(
        '  staging:\n    id: "222222222222"\n    deployer_role_arn: '
        "arn:aws:iam::222222222222:role/fleet-deployer\n    regions: [us-east-1]\n",
        "",
        filename="accounts.yaml",
    )
    fleet.edit("      - account: staging\n", "")
    fleet.manifests.text(
        "partner.yaml",
        "device_certificates:\n  partner-line:\n    ca: partner\n"
        "    certificates: partner-devices\n"
        "    placements: [{account: prod, regions: [us-east-1]}]\n",
    )
    for run in (fleet.project.preview, fleet.project.up):
        refused = run(ok=(ENGINE.failed,))
        assert f"certificate {fingerprint}" in refused.output and "never reactivated" in refused.output
        # Found where the state pointed: by the program's guard, or before it by the refresh every run makes
        # (engines >= 3.216 diff what a refresh read, here REVOKED, against the inputs the last run recorded).
        # AWS's record carries the date it was revoked (its lastModifiedDate), where the endpoint keeps it.
        assert re.search(
            r"revoked (at an unknown date|on \d{4}-\d\d-\d\d) in account (staging \()?222222222222\)?, "
            r"us-east-1",
            refused.output,
        ), refused.output
    assert fleet.aws.writes() == writes  # refused before anything was declared: nothing half-applied
    assert usable_anywhere(fleet, fingerprint) == []


def test_a_record_in_a_region_the_account_no_longer_lists_still_refuses(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.iot("prod", "us-east-1").update_certificate(certificateId=devices.fingerprint(0), newStatus="REVOKED")
    fleet.edit("    regions: [us-east-1, eu-west-1]\n", "    regions: [eu-west-1]\n", filename="accounts.yaml")
    fleet.edit("      - account: prod\n        regions: [us-east-1]\n", "")  # partner's, now out of scope
    refused = fleet.project.preview(ok=(ENGINE.failed,))
    assert f"certificate {devices.fingerprint(0)}" in refused.output
    assert "in account prod (111111111111), us-east-1" in refused.output
    assert usable_anywhere(fleet, devices.fingerprint(0)) == ["prod/eu-west-1: ACTIVE"]  # as it was, not more


# --- Erased ----------------------------------------------------------------------------------


def test_erased_records_and_a_new_stack_refuse_and_up_registers_them_again(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    reactivate_in_manifests(fleet)
    fresh = scratch_project(tmp_path / "fresh", tmp_path / "fresh-state", stack="lost", **fleet.project.extra_env)
    fresh.init(fleet.manifests.root)
    refused = fresh.preview(ok=(ENGINE.failed,))
    assert (
        f"certificate {stolen}" in refused.output
        and "(the revocation ledger, manifests/revocations.yaml:" in refused.output
    )
    assert usable_anywhere(fleet, stolen) == []

    # The manifests as they were: `up --refresh` sees the records gone and registers them again, REVOKED.
    fleet.edit("    policies: [telemetry]\n", "    policies: [telemetry]\n" + UNREVOKE, filename="devices.yaml")
    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    if ENGINE.names_drifted_keys:
        # the state still remembers
        assert shows(drift.output, "-", stolen, {"status": "ABSENT", "was_revoked": True})
        assert shows(drift.output, "+", stolen, "REVOKED")
    fleet.project.up("--refresh")
    assert [status(fleet, stolen, region) for region in REGIONS] == ["REVOKED", "REVOKED"]


def test_erased_records_and_the_entry_removed_then_added_back_refuse(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    stolen = devices.fingerprint(2)
    pem = fleet.manifests.root / "devices" / "device-2.pem"
    kept = pem.read_text()
    pem.unlink()
    fleet.edit(UNREVOKE, "", filename="devices.yaml")
    fleet.project.up()  # removed from the manifests: the ledger keeps it REVOKED in AWS
    assert [status(fleet, stolen, region) for region in REGIONS] == ["REVOKED", "REVOKED"]
    erase_records(fleet, stolen)
    pem.write_text(kept)  # back, under the group's ACTIVE
    refused = fleet.project.up(ok=(ENGINE.failed,))
    assert f"certificate {stolen} (devices/device-2.pem) is declared ACTIVE" in refused.output
    assert usable_anywhere(fleet, stolen) == []


AUTO_ACTIVATION = """\
        auto_registration: ENABLE
        auto_activation:
          policies: [telemetry]
"""


def test_erased_records_and_a_device_registering_itself_is_revoked_by_up(devices: Devices, fleet: Fleet) -> None:
    fleet.edit("        auto_registration: ENABLE\n", AUTO_ACTIVATION)
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    # The stolen device connects: AWS registers it again under its CA, PENDING_ACTIVATION.
    fleet.iot("prod").register_certificate(
        certificatePem=devices.certs[2].cert_pem, caCertificatePem=fleet.root.cert_pem, status="PENDING_ACTIVATION"
    )
    fleet.project.up("--refresh")
    assert status(fleet, stolen) == "REVOKED"  # never activated: revoked again
    assert status(fleet, stolen, "eu-west-1") == "REVOKED"  # its record registered again there too
    assert usable_anywhere(fleet, stolen) == []


def test_erased_records_and_a_device_registering_itself_is_refused_by_the_lambda(
    devices: Devices, fleet: Fleet
) -> None:
    fleet.edit("        auto_registration: ENABLE\n", AUTO_ACTIVATION)
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    iot = fleet.iot("prod")
    reply = iot.register_certificate(
        certificatePem=devices.certs[2].cert_pem, caCertificatePem=fleet.root.cert_pem, status="PENDING_ACTIVATION"
    )
    fleet_spec = load_fleet(fleet.manifests.root, known_regions=set(REGIONS))
    config = config_of(fleet_spec)  # what `fleet jitr-config` writes
    event = registration_event(reply["certificateId"], fleet.ca_id("root"), "111111111111")
    result = handle(event, config, "us-east-1", records_on(fleet.aws))
    assert result == {
        "certificateId": stolen,
        "activated": False,
        "reason": "it is revoked (by the revocation ledger, in AWS or in the manifests)",
    }
    assert status(fleet, stolen) == "PENDING_ACTIVATION"


def test_erased_records_an_edited_state_and_a_removed_entry_are_refused_by_the_ledgers_history(
    devices: Devices, fleet: Fleet
) -> None:
    top = fleet.manifests.root.parent
    git(top, "init", "-q")
    git(top, "add", "manifests")
    git(top, "commit", "-q", "-m", "the fleet, its ledger")
    fleet.project.up()
    stolen = devices.fingerprint(2)
    # The state edited: device-2 no longer recorded anywhere.
    exported = fleet.project.state()
    for resource in exported["deployment"]["resources"]:
        for props in (resource.get("inputs") or {}, resource.get("outputs") or {}):
            if "groups" in props:  # a shard's groups: compact JSON text
                groups = json.loads(props["groups"])
                for group in groups.values():
                    group["certificates"].pop(stolen, None)
                props["groups"] = json.dumps(groups)
    (top / "edited.json").write_text(json.dumps(exported))
    fleet.project.run("stack", "import", "--file", str(top / "edited.json"))
    erase_records(fleet, stolen)
    # ...and the ledger entry removed with the revocation, merged by a careless reviewer.
    forget_ledger(fleet)
    reactivate_in_manifests(fleet)
    git(top, "commit", "-q", "-am", "device-2 is fine after all")
    refused = fleet.project.up(ok=(ENGINE.failed,))
    assert f"certificate {stolen}" in refused.output
    assert "the revocation ledger's history (its entry was removed since)" in refused.output
    assert usable_anywhere(fleet, stolen) == []


def a_merged_removal_cloned_shallow(devices: Devices, fleet: Fleet, clone: Path) -> tuple[str, PulumiProject]:
    """Every memory but the history gone (the records erased, the ledger entry removed and merged),
    then the repository cloned as many CI systems clone it (`--depth 1`), and a stack with no state."""
    top = fleet.manifests.root.parent
    git(top, "init", "-q")
    git(top, "add", "manifests")
    git(top, "commit", "-q", "-m", "the fleet, its ledger")
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    forget_ledger(fleet)
    reactivate_in_manifests(fleet)
    git(top, "commit", "-q", "-am", "device-2 is fine after all")
    git(top, "clone", "-q", "--depth", "1", top.as_uri(), str(clone))  # file://: git ignores --depth on a path
    assert (clone / ".git" / "shallow").exists()
    fresh = scratch_project(clone.parent / "fresh", clone.parent / "fresh-state", stack="ci", **fleet.project.extra_env)
    fresh.init(clone / "manifests")
    return stolen, fresh


def test_a_shallow_clone_out_of_reach_of_its_remote_stops_the_run(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    stolen, fresh = a_merged_removal_cloned_shallow(devices, fleet, tmp_path / "ci")
    git(tmp_path / "ci", "remote", "set-url", "origin", (tmp_path / "gone").as_uri())
    for refused in (fresh.preview(ok=(ENGINE.failed,)), fresh.up(ok=(ENGINE.failed,))):
        said = " ".join(refused.output.split())
        assert "fleet could not read the revocation ledger's history; nothing was changed: " in said
        assert f"{(tmp_path / 'ci').resolve()} is a shallow clone" in said
        assert "fetch the whole history and run again: `git fetch --unshallow`" in said
    assert usable_anywhere(fleet, stolen) == []
    assert status(fleet, stolen) is None  # nothing registered at all
    kept = {r["type"] for r in fresh.state()["deployment"].get("resources") or []}
    assert kept <= {"pulumi:pulumi:Stack"}, kept  # no resource of fleet's was ever declared


def test_a_shallow_clone_is_deepened_and_the_history_refuses_the_reactivation(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    stolen, fresh = a_merged_removal_cloned_shallow(devices, fleet, tmp_path / "ci")
    refused = fresh.up(ok=(ENGINE.failed,))
    assert f"certificate {stolen}" in refused.output
    assert "the revocation ledger's history (its entry was removed since)" in refused.output
    assert not (tmp_path / "ci" / ".git" / "shallow").exists()
    assert usable_anywhere(fleet, stolen) == []


def test_erased_records_and_two_stacks_at_once_the_other_stacks_state_refuses(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    # A branch's copy of the manifests without the revocation nor its entry (outside git: no history).
    branch = tmp_path / "branch" / "manifests"
    shutil.copytree(fleet.manifests.root, branch)
    (branch / "revocations.yaml").unlink()
    text = (branch / "devices.yaml").read_text()
    (branch / "devices.yaml").write_text(text.replace(UNREVOKE, ""))
    other = scratch_project(tmp_path / "other", fleet.project.backend, stack="other", **fleet.project.extra_env)
    other.init(branch)
    # Both apply at once: the first restores device-2's records, the second is refused.
    processes = [_start_up(fleet.project), _start_up(other)]
    results = [process.communicate(timeout=600) for process in processes]
    codes = [process.returncode for process in processes]
    assert codes[0] == 0, results[0]
    assert codes[1] == ENGINE.failed and f"certificate {stolen}" in results[1][0] + results[1][1]
    assert "the recorded state of stack test" in results[1][0] + results[1][1]
    assert usable_anywhere(fleet, stolen) == []


def _start_up(project: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--refresh", "--stack", project.stack, "--non-interactive"],
        cwd=project.workdir,
        env=project.env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_the_ledger_is_written_where_the_manifests_revoke(devices: Devices, fleet: Fleet) -> None:
    """The fixtures' own ledger: what `fleet record-revocations` wrote for device-2."""
    record_ledger(fleet.manifests)  # nothing more to write
    ledger = (fleet.manifests.root / "revocations.yaml").read_text()
    assert ledger.count(f"        {devices.fingerprint(2)}\n") == 1
    assert "        - 111111111111/eu-west-1\n        - 111111111111/us-east-1\n" in ledger


def test_erased_records_and_a_removed_entry_outside_git_the_refreshed_state_still_refuses(
    devices: Devices, fleet: Fleet
) -> None:
    """Every `pulumi up` refreshes first (Pulumi.yaml): the refresh finds the records gone, and the
    state must still remember the revocation rather than record "ABSENT" and forget it."""
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    forget_ledger(fleet)
    reactivate_in_manifests(fleet)  # outside a git work tree: no history either
    for run in (fleet.project.up, fleet.project.up):  # refused, and refused again after that refresh
        refused = run(ok=(ENGINE.failed,))
        assert f"certificate {stolen}" in refused.output and "never reactivated" in refused.output
        assert "the recorded state of stack test" in refused.output
    assert usable_anywhere(fleet, stolen) == []
