"""Property: whatever sequence of manifest edits, hand deletions in AWS, state
losses and device re-registrations happens, no certificate ever revoked is
ACTIVE or INACTIVE in AWS after any step; every `pulumi up` that would make
one usable is refused; and after every `pulumi up` that succeeds, AWS holds
the REVOKED record of each in every region the ledger names.

Runs random sequences (hypothesis) through the real engine against the local
endpoint. Size: FLEET_PROPERTY_EXAMPLES sequences of FLEET_PROPERTY_STEPS
steps (CI: 3 of 6; docs/reliability.md records a bigger run).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from devtools.endpoint import LocalAws
from devtools.pulumi_cli import ENGINE, scratch_project
from tests.conftest import Manifests, record_ledger
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices

pytestmark = pytest.mark.engine

DEVICES = 4
REGIONS = ("us-east-1", "eu-west-1")
EXAMPLES = int(os.environ.get("FLEET_PROPERTY_EXAMPLES", "3"))
STEPS = int(os.environ.get("FLEET_PROPERTY_STEPS", "6"))


class Revocations(RuleBasedStateMachine):
    """The world: a fleet of DEVICES certificates under root in prod, two regions."""

    @initialize()
    def start(self) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="fleet-property-"))
        self.aws = LocalAws().start()
        manifests = Manifests(self.scratch / "manifests")
        self.stacks = 0
        project = scratch_project(
            self.scratch / "project", self.scratch / "state", stack="s0", **self.aws.environment()
        )
        self.fleet = Fleet(manifests, project, self.aws)
        project.init(manifests.root)
        self.devices = Devices(self.fleet)  # device-2 is REVOKED, and in the ledger
        self.kept = {n: (manifests.root / "devices" / f"device-{n}.pem").read_text() for n in range(DEVICES)}
        self.declared = {n: ("revoked" if n == 2 else "active") for n in range(DEVICES)}
        self.revoked = {2}
        self.write()
        self.up()

    def teardown(self) -> None:
        if hasattr(self, "aws"):
            self.aws.stop()
            shutil.rmtree(self.scratch, ignore_errors=True)

    # --- the manifests, as a person edits them ---------------------------------------------

    def write(self, record: bool = True) -> None:
        root = self.fleet.manifests.root
        exceptions = "".join(
            f"      - certificate: devices/device-{n}.pem\n        status: REVOKED\n"
            "        revocation: {reason: stolen, date: 2026-11-01}\n"
            for n in sorted(self.declared)
            if self.declared[n] == "revoked"
        )
        text = (
            "policies:\n  telemetry:\n    document: telemetry.json\n\ndevice_certificates:\n  line-1:\n"
            "    ca: root\n    certificates: devices\n    policies: [telemetry]\n"
        )
        root.joinpath("devices.yaml").write_text(text + (f"    exceptions:\n{exceptions}" if exceptions else ""))
        for n in range(DEVICES):
            pem = root / "devices" / f"device-{n}.pem"
            if self.declared[n] == "absent":
                pem.unlink(missing_ok=True)
            else:
                pem.write_text(self.kept[n])
        if record:  # the ledger only grows: what `fleet record-revocations` writes (it refuses a reactivation)
            record_ledger(self.fleet.manifests)

    def up(self, refused: bool = False) -> None:
        result = self.fleet.project.up("--refresh", ok=(ENGINE.failed,) if refused else (0,))
        if refused:
            assert "never reactivated" in result.output, result.output
            return
        for n in self.revoked:  # AWS keeps the record of every revocation, where the ledger says
            assert [self.status(n, region) for region in REGIONS] == ["REVOKED", "REVOKED"], n

    def status(self, n: int, region: str) -> str | None:
        iot = self.fleet.iot("prod", region)
        try:
            return str(
                iot.describe_certificate(certificateId=self.devices.fingerprint(n))["certificateDescription"]["status"]
            )
        except iot.exceptions.ResourceNotFoundException:
            return None

    # --- what happens to it ------------------------------------------------------------------

    @rule(n=st.integers(0, DEVICES - 1))
    def revoke(self, n: int) -> None:
        if self.declared[n] == "active":
            self.declared[n] = "revoked"
            self.revoked.add(n)
            self.write()
            self.up()

    @rule(n=st.integers(0, DEVICES - 1))
    def try_to_reactivate(self, n: int) -> None:
        if n in self.revoked and self.declared[n] == "revoked":
            self.declared[n] = "active"
            self.write(record=False)
            self.up(refused=True)
            self.declared[n] = "revoked"
            self.write()

    @rule(n=st.integers(0, DEVICES - 1))
    def remove_from_the_manifests(self, n: int) -> None:
        if self.declared[n] != "absent":
            self.declared[n] = "absent"
            self.write()
            self.up()

    @rule(n=st.integers(0, DEVICES - 1))
    def add_back_as_active(self, n: int) -> None:
        if self.declared[n] == "absent":
            self.declared[n] = "active"
            self.write(record=n not in self.revoked)
            if n in self.revoked:
                self.up(refused=True)
                self.declared[n] = "revoked"
                self.write()
            self.up()

    @rule(n=st.integers(0, DEVICES - 1), everywhere=st.booleans())
    def delete_in_aws_by_hand(self, n: int, everywhere: bool) -> None:
        for region in REGIONS if everywhere else REGIONS[:1]:
            iot = self.fleet.iot("prod", region)
            try:
                iot.delete_certificate(certificateId=self.devices.fingerprint(n), forceDelete=True)
            except (
                iot.exceptions.ResourceNotFoundException,
                iot.exceptions.DeleteConflictException,
                iot.exceptions.CertificateStateException,
            ):
                pass  # gone already, or ACTIVE (AWS refuses: nothing erased)

    @rule(n=st.integers(0, DEVICES - 1))
    def device_registers_itself(self, n: int) -> None:
        if self.status(n, "us-east-1") is None:
            self.fleet.iot("prod").register_certificate(
                certificatePem=self.kept[n], caCertificatePem=self.fleet.root.cert_pem, status="PENDING_ACTIVATION"
            )

    @rule()
    def lose_the_state(self) -> None:
        old = self.fleet.project
        old.run("stack", "rm", "--force", "--yes")  # the state is gone; AWS is as it was
        self.stacks += 1
        fresh = scratch_project(
            self.scratch / f"project-{self.stacks}",
            self.scratch / "state",
            stack=f"s{self.stacks}",
            **self.aws.environment(),
        )
        fresh.init(self.fleet.manifests.root)
        self.fleet.project = fresh

    @precondition(lambda self: hasattr(self, "fleet"))
    @rule()
    def apply(self) -> None:
        self.up()

    @invariant()
    def no_certificate_ever_revoked_is_usable(self) -> None:
        if not hasattr(self, "fleet"):
            return
        for n in self.revoked:
            statuses = [self.status(n, region) for region in REGIONS]
            assert not {"ACTIVE", "INACTIVE"} & set(filter(None, statuses)), (n, statuses)


def test_no_sequence_of_losses_and_edits_makes_a_revoked_certificate_usable() -> None:
    run: Any = Revocations.TestCase
    run.settings = settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=list(HealthCheck)
    )
    run().runTest()
