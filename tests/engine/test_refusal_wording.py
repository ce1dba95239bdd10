"""fleet's refusals reach a preview in its own words at both ends of the
supported range (issue 20: on SDK 3.272 a refusal made the preview print
`Preview failed: Traceback ... Exception` and lost the sentence). A refusal
arrives as the program's error (`pulumi.RunError`) or as a provider's check
failure, which both engines print as "<type> resource '<name>' has a
problem: <sentence>"; neither as a traceback."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from devtools.pulumi_cli import ENGINE, Result
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices
from tests.engine.test_revocation_memory import erase_records, forget_ledger, reactivate_in_manifests, usable_anywhere

pytestmark = [pytest.mark.engine, pytest.mark.oldest]

NEVER = (
    "a revoked certificate is never reactivated. Adopt the revocation: set it REVOKED in the manifests, with "
    "its revocation (reason, date)."
)


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


# Pulumi's own race, not fleet's: when a check fails, the engine cancels the program's registrations
# still in flight, and SDK 3.272 prints one cancelled mid-call (gRPC CANCELLED, "context canceled"; it
# maps only UNAVAILABLE to its quiet "Resource monitor has terminated") as the program's traceback,
# beside the check failure (seen once in several runs of these tests, on 3.272 only).
CANCELLED_REGISTRATION = re.compile(
    r"error: Program failed with an unhandled exception:\n\s*Traceback \(most recent call last\):\n"
    r"(?:.*\n)*?\s*Exception: context canceled\n"
)


def in_fleets_words(result: Result, check_failure: bool = False) -> str:
    """The output, once it is known to carry no Python traceback nor gRPC's wrapping of one (after a
    check failure, apart from Pulumi's cancelled registration, whose frames are all Pulumi's)."""
    output = result.output
    if check_failure:
        for block in CANCELLED_REGISTRATION.findall(output):
            assert "/fleet/" not in block, block
        output = CANCELLED_REGISTRATION.sub("", output)
    assert "Traceback" not in output and "Exception calling application" not in output, result.output
    return result.output


def test_a_revocation_by_hand_is_refused_by_a_refreshed_preview_in_fleets_words(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.iot("prod").update_certificate(certificateId=devices.fingerprint(1), newStatus="REVOKED")
    today = datetime.datetime.now(datetime.UTC).date().isoformat()  # the record's date in AWS
    for run in (fleet.project.preview, fleet.project.up):
        output = in_fleets_words(run("--refresh", ok=(ENGINE.failed,)))
        assert "error: refusing to run; nothing was changed:\n" in output
        assert (
            f"certificate {devices.fingerprint(1)} (devices/device-1.pem) is declared ACTIVE at "
            f"manifests/devices.yaml:6, but it was revoked on {today} in account prod (111111111111), "
            f"us-east-1; {NEVER}\n"
        ) in output, output
    assert devices.status(1) == "REVOKED"


def run_without_the_cli_on_path(fleet: Fleet, tmp_path: Path, *args: str) -> Result:
    """The engine run by its full path with `pulumi` itself not on PATH (as when Pulumi's installer did
    not add its folder to PATH): the program cannot read the stacks' recorded state, says so, goes on."""
    cli = shutil.which("pulumi")
    assert cli is not None
    plugins = tmp_path / "plugins-only"
    plugins.mkdir(exist_ok=True)
    for name in ("pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
        found = shutil.which(name)
        assert found is not None
        (plugins / name).unlink(missing_ok=True)
        (plugins / name).symlink_to(found)
    path = [str(plugins), *(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "pulumi").exists())]
    command = [cli, *args, "--stack", fleet.project.stack, "--non-interactive"]
    env = {**fleet.project.env(), "PATH": os.pathsep.join(path)}
    done = subprocess.run(
        command, cwd=fleet.project.workdir, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == ENGINE.failed, done.stdout + done.stderr
    return Result(" ".join(command), done.returncode, done.stdout, done.stderr)


def test_the_providers_check_refuses_what_only_the_state_recorded_in_fleets_words(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    """Every other memory gone (the records erased in AWS, the ledger entry removed, no git history) and
    the stacks' state unread by the program: the certificate resource's check still refuses, at preview."""
    fleet.project.up()
    stolen = devices.fingerprint(2)
    erase_records(fleet, stolen)
    forget_ledger(fleet)
    reactivate_in_manifests(fleet)
    writes = fleet.aws.writes()
    for command in (["preview", "--diff"], ["up", "--yes", "--skip-preview"]):
        output = in_fleets_words(run_without_the_cli_on_path(fleet, tmp_path, *command), check_failure=True)
        assert "the stacks' recorded state could not be read" in output
        # The engine stops at the first check failure: the shard of one region or the other.
        assert any(
            f"error: pulumi-python:dynamic/fleet:DeviceCertificates resource 'certs.prod.{region}."
            f"{stolen[0]}' has a problem: certificate {stolen} (group line-1) is declared ACTIVE at "
            f"manifests/devices.yaml:6, but it was revoked at an unknown date in account prod "
            f"(111111111111), {region}; {NEVER}" in output
            for region in ("us-east-1", "eu-west-1")
        ), output
    assert fleet.aws.writes() == writes
    assert usable_anywhere(fleet, stolen) == []


MODE_CONFLICT = (
    "CA root (manifests/cas.yaml:7) in account prod (111111111111), us-east-1: the CA is already "
    "registered in mode SNI_ONLY, the manifest says DEFAULT; deregister it first or change the manifest"
)


def test_a_ca_registered_in_the_other_mode_is_refused_by_the_program_in_fleets_words(fleet: Fleet) -> None:
    """A new placement whose CA AWS already has in SNI_ONLY (registered by hand) while the manifests say
    DEFAULT: create cannot adopt it; the program refuses before anything is declared, so nothing is written."""
    fleet.iot("prod").register_ca_certificate(caCertificate=fleet.root.cert_pem, certificateMode="SNI_ONLY")
    writes = fleet.aws.writes()
    for run in (fleet.project.preview, fleet.project.up):
        output = in_fleets_words(run(ok=(ENGINE.failed,)))
        assert "error: refusing to run; nothing was changed:\n" in output and f"{MODE_CONFLICT}\n" in output, output
    assert fleet.aws.writes() == writes


def test_a_ca_registered_in_the_other_mode_is_refused_by_its_check_when_the_state_is_unread(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The program tells an adoption from a replacement by the stack's state; unread, the placement's
    check (which sees whether the state holds it) refuses it at preview."""
    fleet.iot("prod").register_ca_certificate(caCertificate=fleet.root.cert_pem, certificateMode="SNI_ONLY")
    writes = fleet.aws.writes()
    output = in_fleets_words(run_without_the_cli_on_path(fleet, tmp_path, "preview", "--diff"), check_failure=True)
    assert "the stacks' recorded state could not be read" in output
    assert (
        f"error: pulumi-python:dynamic/fleet:CaPlacement resource 'root.prod.us-east-1' has a problem: {MODE_CONFLICT}"
    ) in output, output
    assert fleet.aws.writes() == writes
