"""docs/adopting.md, "Step by step", followed command by command on an estate
built in the local endpoint with boto3, as a team would have made it by hand:
CAs in both modes (a DEFAULT one with just-in-time provisioning, an SNI_ONLY
one shared by two accounts), device certificates in every status, with and
without a CA, in several places, policies templated and not, with several
versions, attached, and things. The import writes nothing to AWS; the first
`pulumi up` adopts everything with no IoT write; the drift checks are clean;
a second import after AWS changed adds only what is new. The AWS CLI's lines
are made by boto3 (the AWS CLI is not installed here)."""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devtools.endpoint import LocalAws
from devtools.pki import Issued, issue, make_ca
from devtools.pulumi_cli import PASSPHRASE, REPO
from fleet.crypto import pki
from tests.conftest import client_in
from tests.localaws.support import verification_for

pytestmark = pytest.mark.engine

PROD, STAGING = "111111111111", "222222222222"


def doc_blocks() -> list[list[str]]:
    text = (REPO / "docs" / "adopting.md").read_text()
    body = text.split("## Step by step\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip("\n").splitlines() for block in re.findall(r"```\n(.*?)```", body, re.S)]


def telemetry(account_id: str, region: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": f"arn:aws:iot:{region}:{account_id}:topic/telemetry/${{iot:ClientId}}",
                }
            ],
        }
    )


def document(action: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": action,
                    "Resource": "arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}",
                }
            ],
        }
    )


@dataclass
class Estate:
    """What a team made by hand over the years, in the local endpoint."""

    aws: LocalAws
    factory: Issued = field(default_factory=lambda: make_ca("Factory Root"))
    partner: Issued = field(default_factory=lambda: make_ca("Partner CA"))
    ids: dict[str, str] = field(default_factory=dict)  # device name -> certificate id

    def iot(self, account_id: str, region: str = "us-east-1") -> Any:
        return client_in(self.aws, "iot", account_id, region)

    def build(self) -> None:
        east, west, staging = self.iot(PROD), self.iot(PROD, "eu-west-1"), self.iot(STAGING)
        east.register_ca_certificate(
            caCertificate=self.factory.cert_pem,
            verificationCertificate=verification_for(east, self.factory),
            certificateMode="DEFAULT",
            setAsActive=True,
            allowAutoRegistration=True,
            registrationConfig={"templateBody": '{"Resources": {}}', "roleArn": f"arn:aws:iam::{PROD}:role/jitp"},
        )
        west_ca = west.register_ca_certificate(
            caCertificate=self.factory.cert_pem,
            verificationCertificate=verification_for(west, self.factory),
            certificateMode="DEFAULT",
            setAsActive=True,
        )["certificateId"]
        for iot in (east, staging):
            iot.register_ca_certificate(
                caCertificate=self.partner.cert_pem, certificateMode="SNI_ONLY", setAsActive=True
            )
        for iot, account_id, region in (
            (east, PROD, "us-east-1"),
            (west, PROD, "eu-west-1"),
            (staging, STAGING, "us-east-1"),
        ):
            iot.create_policy(policyName="telemetry", policyDocument=telemetry(account_id, region))
        for iot in (east, staging):
            iot.create_policy(policyName="connect", policyDocument=document("iot:Connect"))
        for action in ("iot:*", "iot:Connect*"):  # versions made by hand, never the default
            east.create_policy_version(policyName="connect", policyDocument=document(action), setAsDefault=False)
        staging.create_policy(policyName="spare", policyDocument=document("iot:Subscribe"))

        statuses = ["ACTIVE"] * 6 + ["INACTIVE"] * 2 + ["REVOKED"] + ["PENDING_ACTIVATION"] * 2
        for n, status in enumerate(statuses):
            name = f"device-{n}"
            arn = self.register(east, name, self.factory, status=status)
            if status in ("ACTIVE", "INACTIVE"):
                east.attach_policy(policyName="telemetry", target=arn)
                thing = name if n != 5 else "gateway-1"  # one on a thing its common name does not name
                east.create_thing(thingName=thing)
                east.attach_thing_principal(thingName=thing, principal=arn)
        for n in range(3):
            west.attach_policy(policyName="telemetry", target=self.register(west, f"west-{n}", self.factory))
        west.update_ca_certificate(certificateId=west_ca, newStatus="INACTIVE")  # keeps its devices working
        for n in range(2):  # one device, registered in two accounts under the shared CA
            device = issue(self.partner, f"shared-{n}")
            for iot in (east, staging):
                arn = iot.register_certificate(
                    certificatePem=device.cert_pem, caCertificatePem=self.partner.cert_pem, setAsActive=True
                )["certificateArn"]
                iot.attach_policy(policyName="connect", target=arn)
            self.ids[f"shared-{n}"] = pki.certificate_id(device.cert)
        loose = make_ca("Vendor CA, never registered")
        for n, status in enumerate(("ACTIVE", "INACTIVE", "PENDING_TRANSFER", "REGISTER_INACTIVE")):
            self.register(staging, f"loose-{n}", loose, status=status, without_ca=True)

    def register(self, iot: Any, name: str, ca: Issued, status: str = "ACTIVE", without_ca: bool = False) -> str:
        device = issue(ca, name)
        self.ids[name] = pki.certificate_id(device.cert)
        if without_ca:
            return str(
                iot.register_certificate_without_ca(certificatePem=device.cert_pem, status=status)["certificateArn"]
            )
        return str(
            iot.register_certificate(certificatePem=device.cert_pem, caCertificatePem=ca.cert_pem, status=status)[
                "certificateArn"
            ]
        )


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts and ".pulumi" not in p.parts
    }


def only_added(before: bytes, after: bytes) -> bool:
    opcodes = difflib.SequenceMatcher(
        a=before.decode().splitlines(), b=after.decode().splitlines(), autojunk=False
    ).get_opcodes()
    return all(tag in ("equal", "insert") for tag, *_ in opcodes)


class Walkthrough:
    """Runs the document's blocks in order, in a shell, from where its `cd` lines lead."""

    def __init__(self, work: Path, aws: LocalAws, estate: Estate):
        self.cwd = work
        self.aws = aws
        self.estate = estate
        self.env = {
            **os.environ,
            **aws.environment(),
            "FLEET_AWS_RATE": "50",
            "PULUMI_BACKEND_URL": (work / "state").as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_HOME": str(work / "pulumi-home"),
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "1",
            "COLUMNS": "250",
            "GIT_AUTHOR_NAME": "team",
            "GIT_COMMITTER_NAME": "team",
            "GIT_AUTHOR_EMAIL": "team@example.com",
            "GIT_COMMITTER_EMAIL": "team@example.com",
        }
        (work / "state").mkdir()
        self.decided: list[tuple[str, str]] = []  # (what the AWS CLI line does, to which certificate)

    def run(self, block: list[str], aws_lines_for: list[str] | None = None) -> subprocess.CompletedProcess[str]:
        shell = []
        for line in block:
            if line.startswith("aws "):
                self._aws(line, (aws_lines_for or []).pop(0))
            else:
                shell.append(line)
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + "\n".join(shell)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"{block}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        for line in shell:
            if line.startswith("cd "):
                self.cwd = self.cwd / line.split()[1]
        return done

    def _aws(self, line: str, device: str) -> None:
        """The AWS CLI's line, by boto3, on the certificate the test decided it is for."""
        iot = self.estate.iot(PROD)
        certificate_id = self.estate.ids[device]
        if line.startswith("aws iot update-certificate --certificate-id CERTIFICATE_ID --new-status ACTIVE"):
            iot.update_certificate(certificateId=certificate_id, newStatus="ACTIVE")
        elif line.startswith("aws iot delete-certificate --certificate-id CERTIFICATE_ID"):
            iot.delete_certificate(certificateId=certificate_id)
        else:
            raise AssertionError(f"no boto3 equivalent for {line!r}")
        self.decided.append((line.split()[2], device))


def test_adopting_an_estate_as_docs_adopting_md_says(tmp_path: Path, own_local_aws: LocalAws) -> None:
    aws = own_local_aws
    estate = Estate(aws)
    estate.build()
    ids = estate.ids
    walk = Walkthrough(tmp_path, aws, estate)
    init, accounts, examples, first_import, decisions, validate, apply, drift = doc_blocks()

    assert init[0].startswith("fleet init team-fleet --account prod --account-id 111111111111")
    walk.run(init)
    walk.run(accounts)
    walk.run(examples)
    assert not (walk.cwd / "manifests" / "cas.yaml").exists()

    writes = aws.writes()
    assert first_import == ["fleet import --things"]
    done = walk.run(first_import)
    assert aws.writes() == writes  # reads only
    out = done.stdout
    assert "Read 3 account(s) and region(s): 2 CA(s), 3 policies, 22 certificate(s)." in out
    assert (
        "Declared: 2 new CA(s) (0 declared CA(s) placed further), 3 new policies, 15 certificate(s) in 5 "
        "group(s), 1 revocation(s) into the ledger." in out
    )
    for device in ("device-9", "device-10"):
        assert re.search(rf"│ factory-root +│ prod +│ us-east-1 +│ {ids[device]} │ off +│ activate: signed by", out)
    for device, status in (("loose-2", "PENDING_TRANSFER"), ("loose-3", "REGISTER_INACTIVE")):
        assert re.search(rf"│ none +│ staging +│ us-east-1 +│ {ids[device]} │ off +│ {status}: not imported", out)
    assert "policy connect (prod/us-east-1): version(s) 2, 3 besides the default: kept (other_versions: keep)" in out
    assert "1 certificate(s) (prod/us-east-1): attached to things not named by their common name" in out
    assert "prod/us-east-1: 2 CA(s), 2 policies, 13 certificate(s)" in done.stderr  # a line per place
    manifests = walk.cwd / "manifests"
    cas = (manifests / "cas.yaml").read_text()
    assert (
        "  factory-root:\n    certificate: pki/factory-root.pem\n    mode: DEFAULT\n    registered_in:\n"
        "      - 111111111111/eu-west-1\n      - 111111111111/us-east-1\n    placements:\n"
        "      - account: prod\n        regions: [us-east-1]\n"
        "        status: ACTIVE\n        auto_registration: ENABLE\n        registration_config:\n"
        "          role_arn: arn:aws:iam::111111111111:role/jitp\n"
        "          template_body: '{\"Resources\": {}}'\n"
        "      - account: prod\n        regions: [eu-west-1]\n        status: INACTIVE\n"
        "        auto_registration: DISABLE\n"
    ) in cas
    assert "  partner-ca:\n    certificate: pki/partner-ca.pem\n    mode: SNI_ONLY\n    placements:\n" in cas
    assert "private_key" not in cas
    policies = (manifests / "policies.yaml").read_text()
    assert "  connect:\n    document: ../policies/connect.json\n    other_versions: keep\n" in policies
    assert "{{region}}:{{account_id}}" in (walk.cwd / "policies" / "telemetry.json").read_text()
    assert "{{" not in (walk.cwd / "policies" / "connect.json").read_text()
    group = (manifests / "imported" / "factory-root-prod-us-east-1.yaml").read_text()
    assert (
        "    status: ACTIVE\n    policies: [telemetry]\n    things: common-name\n    exceptions:\n" in group
        and group.count("        status: INACTIVE\n") == 2
    )
    assert (
        "  partner-ca-us-east-1:\n    ca: partner-ca\n    certificates: partner-ca-us-east-1\n    placements:\n"
        "      - account: prod\n        regions: [us-east-1]\n      - account: staging\n"
        "        regions: [us-east-1]\n"
    ) in (manifests / "imported" / "partner-ca-us-east-1.yaml").read_text()
    ledger = (manifests / "revocations.yaml").read_text()
    assert (
        f"      reason: revoked in AWS before import\n      ca: factory-root\n      places:\n"
        f"        - 111111111111/us-east-1\n      certificates: |\n        {ids['device-8']}\n"
    ) in ledger
    assert not any(
        ids[d] in path for d in ("device-9", "device-10", "loose-2", "loose-3") for path in files_of(walk.cwd)
    )

    before = files_of(walk.cwd)
    done = walk.run(decisions, aws_lines_for=["device-9", "device-10"])  # the team's decisions, in AWS
    assert walk.decided == [("update-certificate", "device-9"), ("delete-certificate", "device-10")]
    assert aws.writes()["iot:UpdateCertificate"] == 1  # the team's, not the import's
    after = files_of(walk.cwd)
    assert sorted(set(after) - set(before)) == [
        "manifests/imported/factory-root-prod-us-east-1-3.yaml",
        f"manifests/imported/factory-root-prod-us-east-1-3/{ids['device-9']}.pem",
    ]
    assert all(after[path] == content for path, content in before.items())  # byte for byte

    assert "manifests: valid: 2 accounts, 2 CAs in 4 placements, 16 device certificates" in walk.run(validate).stdout

    writes = aws.writes()
    walk.run(apply)
    assert aws.writes() == writes  # the first apply adopts everything: not one IoT write
    drifted = walk.run(drift)
    assert "No drift: AWS matches the manifests." in drifted.stdout

    # AWS changes; a second import adds only what is new, and leaves the rest byte for byte.
    staging = estate.iot(STAGING)
    arn = estate.register(staging, "shared-new", estate.partner)
    staging.attach_policy(policyName="connect", target=arn)
    estate.iot(PROD).create_policy(policyName="ota", policyDocument=document("iot:Receive"))
    before = files_of(walk.cwd)
    walk.run(first_import)
    after = files_of(walk.cwd)
    assert sorted(set(after) - set(before)) == [
        "manifests/imported/partner-ca-staging-us-east-1.yaml",
        f"manifests/imported/partner-ca-staging-us-east-1/{ids['shared-new']}.pem",
        "policies/ota.json",
    ]
    assert [path for path in before if after[path] != before[path]] == ["manifests/policies.yaml"]
    assert only_added(before["manifests/policies.yaml"], after["manifests/policies.yaml"])
    walk.run(["fleet validate"])
