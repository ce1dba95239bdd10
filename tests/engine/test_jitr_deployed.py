"""Just-in-time activation deployed by fleet, through the real engine on the
local endpoint: where a CA placement has auto_activation, `pulumi up` keeps
the function, its role, a rule per CA and the rule's permission to invoke it;
hand changes are drift named by `pulumi preview --refresh` and `fleet drift`
and put back by `pulumi up --refresh`; a revocation reaches every deployed
configuration before any certificate changes; and the deployed handler
(downloaded and run as Lambda would: moto cannot run it) refuses a revoked
certificate by its configuration or, with a configuration written before the
revocation, by reading AWS's records in the other places."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from devtools.pki import issue
from devtools.pulumi_cli import ENGINE
from fleet.jitr import role
from tests.conftest import record_ledger
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices
from tests.engine.test_gitops_loop import (
    AUTO_ACTIVATION,
    drift_kinds,
    register_pending,
    script,
    status_and_policies,
)
from tests.jitr_support import deployed_configuration, deployed_package, registration_event, run_deployed

pytestmark = pytest.mark.engine
PROD, STAGING = "111111111111", "222222222222"
PLACES = (("prod", "us-east-1"), ("prod", "eu-west-1"))  # the root CA's placement: every region of prod


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


def client(fleet: Fleet, service: str, region: str = "us-east-1", account: str = "prod") -> Any:
    from tests.conftest import client_in

    return client_in(fleet.aws, service, {"prod": PROD, "staging": STAGING}[account], region)


def deployed(fleet: Fleet, region: str, account: str = "prod") -> dict[str, Any]:
    """What AWS has of the just-in-time activation in one place: {} for each part it lacks."""
    lam, iot, iam = (
        client(fleet, "lambda", region, account),
        client(fleet, "iot", region, account),
        client(fleet, "iam", region, account),
    )
    found: dict[str, Any] = {}
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    if "fleet-jitr" in names:
        found["function"] = lam.get_function_configuration(FunctionName="fleet-jitr")
        found["permissions"] = [
            s["Sid"] for s in json.loads(lam.get_policy(FunctionName="fleet-jitr")["Policy"])["Statement"]
        ]
    found["rules"] = [r["ruleName"] for r in iot.list_topic_rules()["rules"]]
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    if f"fleet-jitr-{region}" in roles:
        found["role_policy"] = iam.get_role_policy(RoleName=f"fleet-jitr-{region}", PolicyName="fleet-jitr")[
            "PolicyDocument"
        ]
    return found


def test_deployed_where_asked_drift_named_and_put_back_removed_with_auto_activation(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    fleet.edit("        auto_registration: ENABLE\n", AUTO_ACTIVATION)
    fleet.project.up()
    ca_id = fleet.ca_id("root")
    rule = f"fleet_jitr_{ca_id}"
    for _, region in PLACES:
        found = deployed(fleet, region)
        function = found["function"]
        assert (function["Runtime"], function["Handler"], function["Role"]) == (
            "python3.13",
            "fleet.jitr.handler.handler",
            f"arn:aws:iam::{PROD}:role/fleet-jitr-{region}",
        )
        assert found["permissions"] == [f"fleet-jitr-{ca_id}"] and found["rules"] == [rule]
        assert found["role_policy"] == role.policy(
            "aws", PROD, region, [f"arn:aws:iam::{STAGING}:role/fleet-jitr-reader"]
        )
        got = client(fleet, "iot", region).get_topic_rule(ruleName=rule)["rule"]
        assert got["sql"] == f"SELECT * FROM '$aws/events/certificates/registered/{ca_id}'"  # noqa: S608
        assert got["actions"] == [{"lambda": {"functionArn": function["FunctionArn"]}}]
    assert deployed(fleet, "us-east-1", "staging") == {"rules": []}  # no auto_activation there: nothing

    # The deployed function activates a device that registers itself, as Lambda would run it.
    device = issue(fleet.root, "new-device")
    pending = register_pending(fleet, device)
    code, logged = run_deployed(
        deployed_package(fleet.aws, PROD, "us-east-1"),
        tmp_path / "task",
        registration_event(pending, ca_id, PROD),
        fleet.aws,
        PROD,
        "us-east-1",
    )
    assert code == 0 and logged == [
        {
            "certificateId": pending,
            "activated": True,
            "reason": "signed by the CA, revoked nowhere, not on its revocation list",
        }
    ]
    assert status_and_policies(fleet, pending) == ("ACTIVE", ["telemetry"])

    # By hand: a rule disabled, another edited, a permission removed, a function's code and settings changed.
    iot_us, iot_eu = client(fleet, "iot", "us-east-1"), client(fleet, "iot", "eu-west-1")
    iot_us.disable_topic_rule(ruleName=rule)
    iot_eu.replace_topic_rule(ruleName=rule, topicRulePayload={"sql": "SELECT * FROM 'anything'", "actions": []})
    client(fleet, "lambda", "us-east-1").remove_permission(FunctionName="fleet-jitr", StatementId=f"fleet-jitr-{ca_id}")
    stranger = io.BytesIO()
    with zipfile.ZipFile(stranger, "w") as archive:
        archive.writestr("fleet/jitr/handler.py", "def handler(event, context):\n    return 'activate everything'\n")
    client(fleet, "lambda", "eu-west-1").update_function_code(FunctionName="fleet-jitr", ZipFile=stranger.getvalue())
    client(fleet, "lambda", "us-east-1").update_function_configuration(FunctionName="fleet-jitr", Timeout=3)

    preview = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert "jitr.prod.us-east-1" in preview.output and "jitr.prod.eu-west-1" in preview.output
    if ENGINE.names_drifted_keys:
        for named in (
            'enabled: "false" => "true"',
            "\"SELECT * FROM 'anything'\" =>",
            'timeout: "3" => "60"',
            "code_sha256: ",
            f"fleet-jitr-{ca_id}",
        ):
            assert named in preview.output, named
    assert drift_kinds(fleet) == {"jitr-function": 2, "jitr-permission": 1, "jitr-rule": 2}

    fleet.project.up("--refresh")
    for _, region in PLACES:
        assert client(fleet, "iot", region).get_topic_rule(ruleName=rule)["rule"]["ruleDisabled"] is False
    assert deployed_configuration(deployed_package(fleet.aws, PROD, "eu-west-1"))["version"] == 1
    fleet.project.preview("--refresh", "--expect-no-changes")
    assert drift_kinds(fleet, ok=(0,)) == {}

    # A function deleted by hand is made again.
    client(fleet, "lambda", "us-east-1").delete_function(FunctionName="fleet-jitr")
    assert drift_kinds(fleet) == {"jitr-function": 1, "jitr-permission": 1}
    fleet.project.up("--refresh")
    assert deployed(fleet, "us-east-1")["permissions"] == [f"fleet-jitr-{ca_id}"]

    # auto_activation removed: every part goes, in every place.
    fleet.edit(AUTO_ACTIVATION, "        auto_registration: ENABLE\n")
    fleet.project.up()
    for _, region in PLACES:
        assert deployed(fleet, region) == {"rules": []}
    # The device it activated stays, now unlisted (as when auto_activation took it in): nothing of jitr is left.
    assert drift_kinds(fleet) == {"policy-attached": 1, "unlisted-certificate": 1}


REVOKE_DEVICE_1 = """\
      - certificate: devices/device-1.pem
        status: REVOKED
        revocation: {reason: stolen at 3 a.m., date: 2026-11-20}
"""


def test_a_revocation_reaches_every_function_first_and_a_stale_configuration_is_caught_by_the_records(
    devices: Devices, fleet: Fleet, tmp_path: Path
) -> None:
    fleet.edit("        auto_registration: ENABLE\n", AUTO_ACTIVATION)
    fleet.project.up()
    before = deployed_package(fleet.aws, PROD, "us-east-1")  # a configuration written before the revocation
    stolen = devices.fingerprint(1)
    assert stolen not in deployed_configuration(before)["revoked"]

    fleet.edit(
        "        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "        revocation: {reason: key leaked, date: 2026-11-01}\n" + REVOKE_DEVICE_1,
        "devices.yaml",
    )
    record_ledger(fleet.manifests)
    # The pull request's review says the functions change with the revocation.
    plan = tmp_path / "plan.json"
    plan.write_text(fleet.project.run("preview", "--json").stdout)
    review = script(fleet, "fleet.sh", "review", str(plan), "--no-aws", "-m", str(fleet.manifests.root)).stdout
    assert (
        review.count(
            "just-in-time activation (function `fleet-jitr`): new package (its code, or its "
            "configuration: the revocation ledger"
        )
        == 2
    ), review
    served = len(fleet.aws.calls_in_order())
    fleet.project.up()
    after = deployed_package(fleet.aws, PROD, "us-east-1")
    assert stolen in deployed_configuration(after)["revoked"]
    assert deployed_configuration(deployed_package(fleet.aws, PROD, "eu-west-1")) == deployed_configuration(after)
    assert devices.status(1) == "REVOKED" and devices.status(1, region="eu-west-1") == "REVOKED"
    # Both functions had their new configuration before any certificate changed (resource dependencies).
    calls = fleet.aws.calls_in_order()[served:]
    updates = [i for i, call in enumerate(calls) if call == "awslambda:UpdateFunctionCode"]  # moto names it so
    certificates = [i for i, call in enumerate(calls) if call == "iot:UpdateCertificate"]
    assert len(updates) == 2 and certificates and max(updates) < min(certificates), calls
    state = fleet.project.state()["deployment"]["resources"]
    shard = next(r for r in state if r["urn"].endswith(f"::certs.prod.us-east-1.{stolen[0]}"))
    assert {d.rsplit("::", 1)[-1] for d in shard["dependencies"]} >= {"jitr.prod.us-east-1", "jitr.prod.eu-west-1"}

    # The record deleted by hand in one place, and the stolen device registers there again.
    iot = fleet.iot("prod")
    iot.delete_certificate(certificateId=stolen, forceDelete=True)
    again = register_pending(fleet, devices.certs[1])
    event = registration_event(again, fleet.ca_id("root"), PROD)
    code, logged = run_deployed(after, tmp_path / "after", event, fleet.aws, PROD, "us-east-1")
    assert (code, logged) == (
        0,
        [
            {
                "certificateId": stolen,
                "activated": False,
                "reason": "it is revoked (by the revocation ledger, in AWS or in the manifests)",
            }
        ],
    )
    # The configuration from before the revocation does not know; AWS's record in eu-west-1 does.
    code, logged = run_deployed(before, tmp_path / "before", event, fleet.aws, PROD, "us-east-1")
    assert (code, logged) == (
        0,
        [
            {
                "certificateId": stolen,
                "activated": False,
                "reason": f"it is REVOKED in account {PROD}, eu-west-1 (AWS's record)",
            }
        ],
    )
    assert status_and_policies(fleet, stolen)[0] == "PENDING_ACTIVATION"
