"""Device-certificate groups and policies: expanded per account and region,
and every bad input refused with file, line and field before any AWS call."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from devtools.pki import issue, make_ca
from tests.conftest import Manifests, load_manifests, problems_in, record_ledger

REGIONS = frozenset({"us-east-1", "eu-west-1"})
ACCOUNTS = """\
accounts:
  prod:
    id: "111111111111"
    deployer_role_arn: arn:aws:iam::111111111111:role/fleet-deployer
    regions: [us-east-1, eu-west-1]
"""
CAS = """\
cas:
  root:
    certificate: pki/root.pem
    mode: SNI_ONLY
    placements:
      - account: prod
"""
POLICIES = """\
policies:
  telemetry:
    document: telemetry.json
"""
TELEMETRY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "iot:Publish",
            "Resource": "arn:aws:iot:{{region}}:{{account_id}}:topic/telemetry/${iot:ClientId}",
        }
    ],
}


@pytest.fixture
def fleet_files(manifests: Manifests) -> Manifests:
    root = manifests.ca("root")
    for n in range(3):
        issue(root, f"device-{n}").write(manifests.root / "devices" / f"device-{n}.pem")
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text("cas.yaml", CAS)
    manifests.text("policies.yaml", POLICIES)
    manifests.text("telemetry.json", json.dumps(TELEMETRY, indent=2))
    return manifests


def load(manifests: Manifests) -> Any:
    return load_manifests(manifests, REGIONS)


def problems_of(manifests: Manifests) -> list[str]:
    return problems_in(manifests, REGIONS)


GROUP = """\
device_certificates:
  line-1:
    ca: root
    certificates: devices
    policies: [telemetry]
"""


def test_a_group_expands_to_one_spec_per_placement_of_its_ca(fleet_files: Manifests) -> None:
    fleet_files.text(
        "devices.yaml",
        GROUP
        + """\
    exceptions:
      - certificate: devices/device-1.pem
        status: REVOKED
        revocation: {reason: key found on a forum, date: 2026-11-01}
""",
    )
    record_ledger(fleet_files)
    fleet = load(fleet_files)
    assert [(g.group, g.account, g.region) for g in fleet.certificate_groups] == [
        ("line-1", "prod", "eu-west-1"),
        ("line-1", "prod", "us-east-1"),
    ]
    group = fleet.certificate_groups[0]
    assert len(group.certificates) == 3 and group.policies == ("telemetry",)
    revoked = [c for c in group.certificates if c.status == "REVOKED"]
    assert len(revoked) == 1 and revoked[0].file == "devices/device-1.pem"
    assert (revoked[0].revocation_date, revoked[0].source) == ("2026-11-01", "manifests/devices.yaml:7")
    assert {c.status for c in group.certificates} == {"ACTIVE", "REVOKED"}
    assert [p.resource_name for p in fleet.policies] == [
        "policy.telemetry.prod.eu-west-1",
        "policy.telemetry.prod.us-east-1",
    ]
    document = json.loads(fleet.policies[1].document)
    assert document["Statement"][0]["Resource"] == "arn:aws:iot:us-east-1:111111111111:topic/telemetry/${iot:ClientId}"


def test_an_expired_device_certificate_is_refused(fleet_files: Manifests) -> None:
    old = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    issue(fleet_files.cas["root"], "old", not_before=old, days=10).write(fleet_files.root / "devices" / "old.pem")
    fleet_files.text("devices.yaml", GROUP)
    (problem,) = problems_of(fleet_files)
    assert "device_certificates.line-1.certificates: devices/old.pem (" in problem
    assert problem.endswith("is expired on 2020-01-11 00:00 UTC")


def test_a_certificate_s_problem_is_said_at_its_own_line_when_the_group_has_exceptions(fleet_files: Manifests) -> None:
    """Once said at the group's last exception, whichever certificate it was about."""
    old = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    issue(fleet_files.cas["root"], "old", not_before=old, days=10).write(fleet_files.root / "devices" / "old.pem")
    fleet_files.text(
        "devices.yaml", GROUP + "    exceptions:\n      - certificate: devices/device-1.pem\n        status: INACTIVE\n"
    )
    (problem,) = problems_of(fleet_files)
    assert problem.startswith("manifests/devices.yaml:4:") and ".line-1.certificates: devices/old.pem (" in problem


def test_the_same_certificate_in_two_groups_is_refused(fleet_files: Manifests) -> None:
    fleet_files.text(
        "devices.yaml",
        GROUP
        + """\
  again:
    certificates: devices/device-0.pem
    placements: [{account: prod}]
""",
    )
    problems = problems_of(fleet_files)
    assert any(
        p.startswith("manifests/devices.yaml:7:19: device_certificates.again.certificates: devices/device-0.pem (")
        and "is already declared in group 'line-1' (manifests/devices.yaml:2)" in p
        for p in problems
    ), problems
    assert any(
        p.startswith("manifests/devices.yaml:4:19: device_certificates.line-1.certificates: ")
        and "is declared again in group 'again' (manifests/devices.yaml:6)" in p
        for p in problems
    )


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        (
            GROUP.replace("ca: root", "ca: rot"),
            "devices.yaml:3:9: device_certificates.line-1.ca: unknown CA 'rot' (did you mean 'root'?)",
        ),
        (
            GROUP.replace("[telemetry]", "[telemtry]"),
            "devices.yaml:5:16: device_certificates.line-1.policies[0]: "
            "unknown policy 'telemtry' (did you mean 'telemetry'?)",
        ),
        (
            GROUP.replace("[telemetry]", "[" + ", ".join(f"p{n}" for n in range(11)) + "]"),
            "devices.yaml:5:15: device_certificates.line-1.policies: at most 10 items",
        ),
        (
            GROUP.replace("    ca: root\n", ""),
            "devices.yaml:2:3: device_certificates.line-1: a group without a CA needs placements",
        ),
        (
            GROUP + "    exceptions:\n      - certificate: devices/device-0.pem\n        status: REVOKED\n",
            "devices.yaml:7:9: device_certificates.line-1.exceptions[0]: status REVOKED needs a revocation",
        ),
        (
            GROUP.replace("devices\n", "nowhere\n"),
            "devices.yaml:4:19: device_certificates.line-1.certificates: no PEM certificate at nowhere",
        ),
    ],
)
def test_bad_groups_are_explained(fleet_files: Manifests, group: str, expected: str) -> None:
    fleet_files.text("devices.yaml", group)
    problems = problems_of(fleet_files)
    assert any(p.startswith(f"manifests/{expected}") for p in problems), problems


def test_a_group_under_the_wrong_ca_is_one_line_per_ca_that_did_sign_them(fleet_files: Manifests) -> None:
    """Not one line per certificate: how many, which files, and the CA that signed them (the
    manifests' own, by name; else the issuer's subject), at the group's `ca:`."""
    partner = fleet_files.ca("partner")
    fleet_files.text(
        "cas.yaml",
        CAS + "  partner:\n    certificate: pki/partner.pem\n    mode: SNI_ONLY\n"
        "    placements:\n      - account: prod\n",
    )
    for n in range(7):
        issue(partner, f"sensor-{n}").write(fleet_files.root / "devices" / f"sensor-{n}.pem")
    issue(make_ca("vendor CA", organization="acme"), "gadget").write(fleet_files.root / "devices" / "gadget.pem")
    fleet_files.text("devices.yaml", GROUP)
    assert problems_of(fleet_files) == [
        "manifests/devices.yaml:3:9: device_certificates.line-1.ca: 1 certificate of this group is signed by none "
        "of the manifests' CAs (its issuer is 'CN=vendor CA,O=acme'), not by CA 'root': devices/gadget.pem",
        "manifests/devices.yaml:3:9: device_certificates.line-1.ca: 7 certificates of this group are signed by CA "
        "'partner', not by CA 'root': devices/sensor-0.pem, devices/sensor-1.pem, devices/sensor-2.pem, "
        "devices/sensor-3.pem, devices/sensor-4.pem and 2 more",
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "policies.yaml:3:15: policies.telemetry.document: not valid JSON"),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "x" * 2100}],
                }
            ),
            "policies.yaml:3:15: policies.telemetry.document: the document has 2194 characters without whitespace "
            "in prod/eu-west-1; AWS allows 2048",
        ),
        (
            "[1, 2]",
            "policies.yaml:3:15: policies.telemetry.document: a policy document is a JSON object with "
            "Version and Statement, not a list",
        ),
        (
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "Connect", "Resource": "*"}]}',
            "policies.yaml:3:15: policies.telemetry.document: Statement[0]: each Action is service:action "
            "(iot:Connect, iot:*), not 'Connect'",
        ),
        (
            '{"Resource": "{{acount_id}}"}',
            "policies.yaml:3:15: policies.telemetry.document: unknown substitution {{acount_id}}",
        ),
    ],
)
def test_bad_policy_documents_are_explained(fleet_files: Manifests, document: str, expected: str) -> None:
    fleet_files.text("telemetry.json", document)
    fleet_files.text("devices.yaml", GROUP)
    problems = problems_of(fleet_files)
    assert any(p.startswith(f"manifests/{expected}") for p in problems), problems
