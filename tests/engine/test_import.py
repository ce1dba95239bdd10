"""`fleet import` against an AWS that fails, as a user runs it: through the
reader role and throttled it writes the same files as otherwise, and nothing
to AWS; an account and region that cannot be reached stops it naming them,
with the manifests as they were; killed (`kill -9`) while it fetches PEMs and
run again, it fetches only what it had not and ends with the same files as
an import never stopped. (The walkthrough of docs/adopting.md is
test_adopting.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.endpoint import LocalAws
from devtools.pki import issue, make_ca
from fleet.crypto import pki
from fleet.importing.fetching import STAGING
from tests.conftest import client_in

pytestmark = pytest.mark.engine

ACCOUNTS = """\
accounts:
  prod:
    id: "111111111111"
    deployer_role_arn: arn:aws:iam::111111111111:role/fleet-deployer
    regions: [us-east-1, eu-west-1]
  staging:
    id: "222222222222"
    deployer_role_arn: arn:aws:iam::222222222222:role/fleet-deployer
    regions: [us-east-1]
"""
PLACES = (("111111111111", "us-east-1"), ("111111111111", "eu-west-1"), ("222222222222", "us-east-1"))
PER_PLACE = 12
POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
)


@pytest.fixture
def estate(own_local_aws: LocalAws) -> dict[str, str]:
    """A CA in each place with its devices (one INACTIVE, one REVOKED), a policy on each, and one certificate
    without a CA whose PEM AWS gives back as two certificates. Returns what is not what it seems: name -> id."""
    ca = make_ca("Fleet CA")
    for account_id, region in PLACES:
        iot = client_in(own_local_aws, "iot", account_id, region)
        iot.register_ca_certificate(caCertificate=ca.cert_pem, certificateMode="SNI_ONLY", setAsActive=True)
        iot.create_policy(policyName="connect", policyDocument=POLICY)
        for n in range(PER_PLACE):
            device = issue(ca, f"{region}-{account_id}-{n}")
            status = {0: "INACTIVE", 1: "REVOKED"}.get(n, "ACTIVE")
            arn = iot.register_certificate(certificatePem=device.cert_pem, caCertificatePem=ca.cert_pem, status=status)[
                "certificateArn"
            ]
            iot.attach_policy(policyName="connect", target=arn)
    twice = issue(make_ca("Vendor"), "twice")
    client_in(own_local_aws, "iot", "222222222222").register_certificate_without_ca(
        certificatePem=twice.cert_pem * 2, status="ACTIVE"
    )
    return {"twice": pki.certificate_id(twice.cert)}


def repository(root: Path) -> Path:
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "accounts.yaml").write_text(ACCOUNTS)
    return manifests


def fleet_import(manifests: Path, aws: LocalAws, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", "import", "-m", str(manifests)],
        env={**os.environ, **aws.environment(), "FLEET_AWS_RATE": "200", "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_through_the_reader_role_and_throttled_an_import_writes_the_same_files_and_nothing_to_aws(
    tmp_path: Path, own_local_aws: LocalAws, estate: dict[str, str]
) -> None:
    aws = own_local_aws
    writes = aws.writes()  # the estate's making
    plain = repository(tmp_path / "plain")
    done = fleet_import(plain, aws)
    assert done.returncode == 0, done.stderr
    assert (
        f"certificate {estate['twice']} (staging/us-east-1): AWS gave a PEM fleet cannot read (expected exactly "
        "one PEM certificate" in done.stdout
    )
    assert (
        "Declared: 1 new CA(s) (0 declared CA(s) placed further), 1 new policies, 33 certificate(s) in 3 "
        "group(s), 3 revocation(s) into the ledger." in done.stdout
    )

    throttled = repository(tmp_path / "throttled")
    aws.arm_faults({"kind": "throttle", "service": "*", "requests": "all", "every": 3})
    done = fleet_import(throttled, aws, FLEET_READER_ROLE="fleet-reader")
    assert done.returncode == 0, done.stderr
    assert aws.faults_injected()["throttle"] > 20
    assert files_of(throttled.parent) == files_of(plain.parent)
    assert aws.writes() == writes  # neither import wrote to AWS


def test_a_place_that_cannot_be_reached_stops_the_import_naming_it_with_the_manifests_as_they_were(
    tmp_path: Path, own_local_aws: LocalAws, estate: dict[str, str]
) -> None:
    manifests = repository(tmp_path / "repo")
    before = files_of(manifests.parent)
    own_local_aws.arm_faults({"kind": "error", "requests": "all", "region": "eu-west-1"})
    done = fleet_import(manifests, own_local_aws, FLEET_AWS_RETRY_SECONDS="2")
    assert done.returncode == 1
    assert "fleet import: could not read AWS: " in done.stderr
    assert "in account prod (111111111111), eu-west-1: AWS said ServiceUnavailableException" in done.stderr
    assert "The manifests are as they were." in done.stderr and "Traceback" not in done.stderr
    assert files_of(manifests.parent) == before


def test_an_import_killed_while_it_fetches_and_run_again_ends_with_the_same_files_fetching_only_the_rest(
    tmp_path: Path, own_local_aws: LocalAws, estate: dict[str, str]
) -> None:
    aws = own_local_aws
    uninterrupted = repository(tmp_path / "uninterrupted")
    assert fleet_import(uninterrupted, aws).returncode == 0
    expected = files_of(uninterrupted.parent)

    killed = repository(tmp_path / "killed")
    before = files_of(killed.parent)
    staging = killed / STAGING
    # Slow enough to be caught fetching: 2 PEMs a second per account and region.
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet", "import", "-m", str(killed)],
        env={**os.environ, **aws.environment(), "FLEET_AWS_RATE": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(list(staging.glob("*.pem"))) < 8 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    fetched = len(list(staging.glob("*.pem")))
    assert 8 <= fetched < 3 * PER_PLACE
    left = files_of(killed.parent)
    assert {
        path: content for path, content in left.items() if not path.startswith("manifests/imported/.")
    } == before  # only the fetched PEMs and their journal: no manifest half-written

    described = aws.calls().get("iot:DescribeCertificate", 0)
    done = fleet_import(killed, aws)
    assert done.returncode == 0, done.stderr
    total = 3 * PER_PLACE + 1  # every certificate but none twice (the same one in several places has none here)
    assert aws.calls()["iot:DescribeCertificate"] - described == total - fetched  # only what it did not have
    assert files_of(killed.parent) == expected
    shutil.rmtree(tmp_path / "uninterrupted")
