"""CA placements through the real Pulumi CLI and engine, on the local endpoint."""

from __future__ import annotations

import pytest

from devtools.pki import issue
from devtools.pulumi_cli import ENGINE, provider_failure
from tests.engine.conftest import Fleet

# The whole CA lifecycle also runs on the oldest supported Pulumi.
pytestmark = [pytest.mark.engine, pytest.mark.oldest]


def test_up_registers_each_placement_with_its_mode_status_and_auto_registration(fleet: Fleet) -> None:
    fleet.project.up()

    root = fleet.describe("root", "prod", "eu-west-1")
    assert (root["status"], root["certificateMode"], root["autoRegistrationStatus"]) == ("ACTIVE", "DEFAULT", "ENABLE")
    assert root["registrationConfig"] == {
        "templateBody": '{"Resources": {}}',
        "roleArn": "arn:aws:iam::111111111111:role/jitp",
    }
    assert fleet.describe("partner", "prod")["status"] == "ACTIVE"
    staging = fleet.describe("partner", "staging")
    assert (staging["status"], staging["certificateMode"]) == ("INACTIVE", "SNI_ONLY")
    assert staging["ownedBy"] == "222222222222"
    assert fleet.iot("staging").list_ca_certificates()["certificates"][0]["certificateId"] == fleet.ca_id("partner")
    assert fleet.aws.writes() == {"iot:RegisterCACertificate": 4}


def test_a_second_up_makes_no_aws_write_and_preview_sees_no_change(fleet: Fleet) -> None:
    fleet.project.up()
    writes = fleet.aws.writes()
    fleet.project.up()
    fleet.project.preview("--refresh", "--expect-no-changes")
    assert fleet.aws.writes() == writes


def test_status_and_auto_registration_change_in_place(fleet: Fleet) -> None:
    fleet.project.up()
    created = fleet.describe("root", "prod")["creationDate"]
    fleet.edit(
        "        status: ACTIVE\n        auto_registration: ENABLE",
        "        status: INACTIVE\n        auto_registration: DISABLE",
    )
    before = fleet.aws.writes()

    fleet.project.up()

    root = fleet.describe("root", "prod")
    assert (root["status"], root["autoRegistrationStatus"], root["creationDate"]) == ("INACTIVE", "DISABLE", created)
    after = fleet.aws.writes()
    assert after["iot:RegisterCACertificate"] == before["iot:RegisterCACertificate"]  # never re-registered
    assert after["iot:UpdateCACertificate"] == 2  # one per region of the placement
    assert "iot:DeleteCACertificate" not in after


def test_drift_made_by_hand_is_detected_and_corrected(fleet: Fleet) -> None:
    fleet.project.up()
    fleet.project.preview("--expect-no-changes")
    fleet.iot("prod").update_ca_certificate(
        certificateId=fleet.ca_id("root"), newStatus="INACTIVE", newAutoRegistrationStatus="DISABLE"
    )

    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert ENGINE.changes_proposed in drift.output
    assert "CaPlacement::root.prod.us-east-1]" in drift.output
    assert "1 to update" in drift.output and "root.prod.eu-west-1]" not in drift.output.split("Resources:")[0]

    fleet.project.up("--refresh")
    root = fleet.describe("root", "prod")
    assert (root["status"], root["autoRegistrationStatus"]) == ("ACTIVE", "ENABLE")
    fleet.project.preview("--refresh", "--expect-no-changes")


def test_registration_config_drift_is_detected(fleet: Fleet) -> None:
    fleet.project.up()
    fleet.iot("prod", "eu-west-1").update_ca_certificate(certificateId=fleet.ca_id("root"), removeAutoRegistration=True)
    drift = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert "CaPlacement::root.prod.eu-west-1]" in drift.output
    fleet.project.up("--refresh")
    assert fleet.describe("root", "prod", "eu-west-1")["registrationConfig"]["templateBody"] == '{"Resources": {}}'


def test_an_invalid_manifest_is_refused_before_any_aws_write(fleet: Fleet) -> None:
    fleet.project.up()
    fleet.edit("auto_registration: ENABLE", "auto_registraton: ENABLE")
    calls, writes = fleet.aws.calls(), fleet.aws.writes()

    for run in (fleet.project.preview, fleet.project.up):
        refused = run(ok=(ENGINE.failed,))
        assert (
            "cas.yaml:9:9: cas.root.placements[0].auto_registraton: unknown field 'auto_registraton' "
            "(did you mean 'auto_registration'?)"
        ) in refused.output
    # Only the refresh before each (Pulumi.yaml: `refresh: always`) called AWS, to read it.
    assert fleet.aws.calls() != calls and fleet.aws.writes() == writes


def test_a_ca_already_in_aws_is_adopted_not_registered_again(fleet: Fleet) -> None:
    fleet.iot("staging").register_ca_certificate(
        caCertificate=fleet.partner.cert_pem, certificateMode="SNI_ONLY", setAsActive=True
    )
    by_hand = fleet.aws.writes()["iot:RegisterCACertificate"]
    fleet.project.up()
    assert fleet.describe("partner", "staging")["status"] == "INACTIVE"  # the manifest's state, by update
    assert fleet.aws.writes()["iot:RegisterCACertificate"] - by_hand == 3  # the other three placements only


def test_removing_a_placement_deactivates_then_deletes_the_ca(fleet: Fleet) -> None:
    fleet.project.up()
    fleet.edit("      - account: prod\n        regions: [us-east-1]\n", "")
    before = fleet.aws.writes()
    fleet.project.up()
    remaining = {c["certificateId"] for c in fleet.iot("prod").list_ca_certificates()["certificates"]}
    assert remaining == {fleet.ca_id("root")}
    after = fleet.aws.writes()
    assert after["iot:UpdateCACertificate"] - before.get("iot:UpdateCACertificate", 0) == 1  # deactivate first
    assert after["iot:DeleteCACertificate"] == 1


def test_a_ca_with_device_certificates_under_it_is_not_deleted(fleet: Fleet) -> None:
    fleet.project.up()
    device = issue(fleet.partner, "device").cert_pem
    fleet.iot("prod").register_certificate(
        certificatePem=device, caCertificatePem=fleet.partner.cert_pem, setAsActive=True
    )
    fleet.edit("      - account: prod\n        regions: [us-east-1]\n", "")

    refused = fleet.project.up(ok=(ENGINE.failed,))

    # Found by the delete itself (what it may remove depends on what the run retired before it): a failure.
    line = provider_failure(refused.output, "device certificates are still registered under it")
    assert "CA partner (manifests/cas.yaml:17) in account prod (111111111111), us-east-1: not deleting" in line
    assert fleet.describe("partner", "prod")["status"] == "ACTIVE"  # untouched


def test_renaming_a_ca_keeps_it_registered(fleet: Fleet) -> None:
    fleet.project.up()
    fleet.edit("  partner:\n", "  partner-ca:\n")
    fleet.project.up()  # the new placements adopt it; the old ones' deletes must not deregister it
    assert fleet.describe("partner", "prod")["status"] == "ACTIVE"
    assert fleet.describe("partner", "staging")["status"] == "INACTIVE"
    assert "iot:DeleteCACertificate" not in fleet.aws.writes()
    fleet.project.preview("--refresh", "--expect-no-changes")
