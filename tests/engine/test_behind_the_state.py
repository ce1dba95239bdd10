"""Exit 0 means AWS equals the manifests, also after changes made behind the
state's back: the documented apply commands, run exactly as documented (the
apply workflow's step, the README's `pulumi up --yes`), find what AWS really
holds before they change it. AWS is read with boto3 before and after, never
through fleet's own reads."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from ruamel.yaml import YAML

from devtools.pulumi_cli import Result
from fleet.scaffold import new_fleet
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices
from tests.engine.test_try_locally import readme_blocks

pytestmark = [pytest.mark.engine, pytest.mark.oldest]

PLACES = (("prod", "us-east-1"), ("prod", "eu-west-1"), ("staging", "us-east-1"))


def workflow_apply() -> str:
    """The apply workflow's `pulumi up` step, as `fleet init` writes it."""
    workflow = YAML(typ="safe").load(new_fleet.workflow("main.yml", new_fleet.Ci()))
    [step] = [s for s in workflow["jobs"]["apply"]["steps"] if s.get("name") == "Apply"]
    return str(step["run"])


def readme_apply() -> str:
    """README "Try it locally": the command that applies."""
    [_, steps] = readme_blocks("Try it locally")
    [command] = [s for s in steps if s.startswith("pulumi up")]
    return command


COMMANDS = {"the apply workflow": workflow_apply, "the README": readme_apply}


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


def apply(fleet: Fleet, command: str) -> Result:
    """The command as the docs print it, in the project, on its stack."""
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=fleet.project.workdir,
        env={**fleet.project.env(), "FLEET_STACK": fleet.project.stack},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return Result(command, done.returncode, done.stdout, done.stderr)


def aws_holds(fleet: Fleet) -> dict[str, Any]:
    """Everything fleet manages, as boto3 reads it, in every account and region of the test fleet."""
    held: dict[str, Any] = {}
    for account, region in PLACES:
        iot = fleet.iot(account, region)
        cas = {}
        for ca in iot.list_ca_certificates()["certificates"]:
            described = iot.describe_ca_certificate(certificateId=ca["certificateId"])
            cas[ca["certificateId"]] = (
                described["certificateDescription"]["status"],
                described["certificateDescription"]["autoRegistrationStatus"],
                described.get("registrationConfig", {}),
            )
        certificates = {}
        for cert in iot.list_certificates(pageSize=250)["certificates"]:
            attached = iot.list_attached_policies(target=cert["certificateArn"])["policies"]
            certificates[cert["certificateId"]] = (cert["status"], sorted(p["policyName"] for p in attached))
        policies = {}
        for policy in iot.list_policies()["policies"]:
            name = policy["policyName"]
            versions = iot.list_policy_versions(policyName=name)["policyVersions"]
            document = json.loads(iot.get_policy(policyName=name)["policyDocument"])
            targets = iot.list_targets_for_policy(policyName=name)["targets"]
            policies[name] = (document, len(versions), len(targets))
        held[f"{account}/{region}"] = {"cas": cas, "certificates": certificates, "policies": policies}
    return held


def change_behind_the_state(fleet: Fleet, devices: Devices) -> None:
    """What console users do, each in one place."""
    staging = fleet.iot("staging")
    staging.delete_ca_certificate(certificateId=fleet.ca_id("partner"))  # INACTIVE there: AWS allows it
    fleet.iot("prod", "eu-west-1").update_ca_certificate(certificateId=fleet.ca_id("root"), newStatus="INACTIVE")
    prod = fleet.iot("prod")
    gone = devices.fingerprint(0)
    arn = prod.describe_certificate(certificateId=gone)["certificateDescription"]["certificateArn"]
    prod.update_certificate(certificateId=gone, newStatus="INACTIVE")
    prod.detach_policy(policyName="telemetry", target=arn)
    prod.delete_certificate(certificateId=gone)
    prod.create_policy_version(
        policyName="telemetry",
        setAsDefault=True,
        policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
        ),
    )
    europe = fleet.iot("prod", "eu-west-1")
    detached = europe.describe_certificate(certificateId=devices.fingerprint(1))["certificateDescription"]
    europe.detach_policy(policyName="telemetry", target=detached["certificateArn"])


@pytest.mark.parametrize("documented", sorted(COMMANDS))
def test_the_documented_apply_puts_back_what_was_changed_behind_the_state(
    devices: Devices, fleet: Fleet, documented: str
) -> None:
    fleet.project.up()
    declared = aws_holds(fleet)
    change_behind_the_state(fleet, devices)
    changed = aws_holds(fleet)
    assert changed != declared

    applied = apply(fleet, COMMANDS[documented]())
    assert applied.code == 0, applied.output
    assert aws_holds(fleet) == declared


@pytest.mark.parametrize("documented", sorted(COMMANDS))
def test_the_documented_apply_after_the_endpoint_restarted_empty_registers_everything_again(
    devices: Devices, fleet: Fleet, documented: str
) -> None:
    fleet.project.up()
    declared = aws_holds(fleet)
    fleet.aws.reset()  # what a restarted local endpoint holds: nothing
    assert all(not any(held.values()) for held in aws_holds(fleet).values())

    applied = apply(fleet, COMMANDS[documented]())
    assert applied.code == 0, applied.output
    assert aws_holds(fleet) == declared


@pytest.mark.parametrize("documented", sorted(COMMANDS))
def test_a_revoked_certificate_registered_again_by_hand_is_revoked_again_by_the_documented_apply(
    devices: Devices, fleet: Fleet, documented: str
) -> None:
    fleet.project.up()
    stolen = devices.fingerprint(2)
    prod = fleet.iot("prod")
    # Its REVOKED record deleted by hand in one place, and registered there again: pending, then
    # activated by a just-in-time handler that does not know it was revoked.
    prod.delete_certificate(certificateId=stolen, forceDelete=True)
    prod.register_certificate(
        certificatePem=devices.certs[2].cert_pem, caCertificatePem=fleet.root.cert_pem, status="PENDING_ACTIVATION"
    )
    prod.update_certificate(certificateId=stolen, newStatus="ACTIVE")

    applied = apply(fleet, COMMANDS[documented]())
    assert applied.code == 0, applied.output  # the manifests declare it REVOKED: AWS equals them again
    assert [devices.status(2, region=region) for region in ("us-east-1", "eu-west-1")] == ["REVOKED", "REVOKED"]
