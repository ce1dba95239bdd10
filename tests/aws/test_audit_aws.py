"""`fleet audit --aws` against the local endpoint: what AWS holds, read through the reader role (the drift
workflow's), with reads only; a policy made permissive by hand and a certificate on its CA's revocation list
registered by hand are found, each located in the manifests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devtools.endpoint import LocalAws
from devtools.pki import issue, make_crl
from tests.audit_support import SOUND_POLICY, small_fleet
from tests.conftest import Manifests, client_in

PROD = "111111111111"


def audit_aws(manifests: Manifests, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", "audit", "--aws", "-m", str(manifests.root), *extra],
        cwd=manifests.root.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "FLEET_READER_ROLE": "fleet-reader", **env},
    )


def test_a_policy_made_permissive_by_hand_and_a_revoked_certificate_registered_by_hand_are_found(
    local_aws: LocalAws, manifests: Manifests
) -> None:
    small_fleet(manifests, devices=1)
    root = manifests.cas["root"]
    stolen = issue(root, "stolen")
    (manifests.root / "pki" / "root.crl").write_bytes(make_crl(root, [stolen]))
    manifests.text(
        "cas.yaml",
        (manifests.root / "cas.yaml")
        .read_text()
        .replace("    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n"),
    )
    iot = client_in(local_aws, "iot", PROD, "us-east-1")
    document = json.dumps(SOUND_POLICY).replace("{{region}}", "us-east-1").replace("{{account_id}}", PROD)
    iot.create_policy(policyName="telemetry", policyDocument=document)
    assert audit_aws(manifests).returncode == 0  # what AWS holds is sound so far

    # Someone makes a new default version by hand, and registers the stolen certificate ACTIVE.
    iot.create_policy_version(
        policyName="telemetry",
        setAsDefault=True,
        policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
        ),
    )
    iot.register_certificate_without_ca(certificatePem=stolen.cert_pem, status="ACTIVE")
    before = dict(local_aws.calls())
    done = audit_aws(manifests, "--json")
    assert done.returncode == 1, done.stderr
    found = {f["check"]: f for f in json.loads(done.stdout)}
    policy = found["IOT_POLICY_OVERLY_PERMISSIVE_CHECK"]
    assert policy["resource"] == "policy:telemetry" and policy["file"] == "manifests/telemetry.json"
    assert policy["places"] == [{"account": "prod", "account_id": PROD, "region": "us-east-1"}]
    revoked = found["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"]
    assert "on CA root's revocation list" in revoked["message"]
    assert (revoked["file"], revoked["line"]) == ("manifests/accounts.yaml", 2)  # only AWS has it: its account
    calls = {op: n - before.get(op, 0) for op, n in local_aws.calls().items() if n != before.get(op, 0)}
    iot_calls = [op for op in calls if op.startswith("iot:")]
    assert iot_calls and all(op.split(":")[1].startswith(("List", "Describe", "Get")) for op in iot_calls), calls


def test_audit_aws_fails_clearly_when_aws_cannot_be_read(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1)
    done = audit_aws(manifests, FLEET_AWS_RETRY_SECONDS="2")  # the autouse guard points every test at a dead port
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("could not read AWS: "), done.stderr
    assert "Traceback" not in done.stderr
