"""Engine-level fixtures: a scratch Pulumi project on a file backend, driven by
the real Pulumi CLI, against the local AWS endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes

from devtools.endpoint import LOCAL_CREDENTIALS, LocalAws
from devtools.pulumi_cli import PulumiProject, scratch_project
from tests import wheel
from tests.conftest import Manifests, client_in
from tests.engine.synthetic import Synthetic

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

CAS = """\
cas:
  root:
    certificate: pki/root.pem
    private_key: {env: ROOT_CA_KEY}
    mode: DEFAULT
    placements:
      - account: prod
        status: ACTIVE
        auto_registration: ENABLE
        registration_config:
          template_body: '{"Resources": {}}'
          role_arn: arn:aws:iam::111111111111:role/jitp
  partner:
    certificate: pki/partner.pem
    mode: SNI_ONLY
    placements:
      - account: prod
        regions: [us-east-1]
      - account: staging
        status: INACTIVE
"""


class Fleet:
    """A test fleet: its manifests, its Pulumi project, and the endpoint."""

    def __init__(self, manifests: Manifests, project: PulumiProject, aws: LocalAws):
        self.manifests = manifests
        self.project = project
        self.aws = aws
        self.root = manifests.ca("root")
        self.partner = manifests.ca("partner")
        manifests.text("accounts.yaml", ACCOUNTS)
        manifests.text("cas.yaml", CAS)
        project.extra_env["ROOT_CA_KEY"] = self.root.key_pem

    def edit(self, old: str, new: str, filename: str = "cas.yaml") -> None:
        path = self.manifests.root / filename
        text = path.read_text()
        assert old in text, f"{old!r} not in {filename}"
        path.write_text(text.replace(old, new, 1))

    def iot(self, account: str, region: str = "us-east-1") -> Any:
        """A console user's IoT client in the named account (prod or staging)."""
        account_id = {"prod": "111111111111", "staging": "222222222222"}[account]
        return client_in(self.aws, "iot", account_id, region)

    def ca_id(self, ca: str) -> str:
        return {"root": self.root, "partner": self.partner}[ca].cert.fingerprint(hashes.SHA256()).hex()

    def describe(self, ca: str, account: str, region: str = "us-east-1") -> dict[str, Any]:
        ca_id = self.ca_id(ca)
        reply = self.iot(account, region).describe_ca_certificate(certificateId=ca_id)
        return {**reply["certificateDescription"], "registrationConfig": reply.get("registrationConfig", {})}


@pytest.fixture
def own_local_aws() -> Iterator[LocalAws]:
    """A fresh endpoint per engine test: nothing carries over between tests."""
    with LocalAws() as server:
        yield server


BUCKET = "fleet-state"


@pytest.fixture
def on_s3(tmp_path: Path) -> Iterator[Synthetic]:
    """The synthetic fleet (40 certificates) with its state on Pulumi's S3 backend, in the local endpoint's S3."""
    with LocalAws() as aws:
        s3 = boto3.client(
            "s3",
            endpoint_url=aws.url,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket=BUCKET)
        url = f"s3://{BUCKET}/fleet?endpoint={aws.url}&region=us-east-1&use_path_style=true"
        yield Synthetic(tmp_path, aws, 40, FLEET_AWS_RATE="4", PULUMI_BACKEND_URL=url, AWS_REGION="us-east-1")


@pytest.fixture
def fleet(tmp_path: Path, manifests: Manifests, own_local_aws: LocalAws) -> Fleet:
    project = scratch_project(tmp_path / "project", tmp_path / "state", **own_local_aws.environment())
    fleet = Fleet(manifests, project, own_local_aws)
    project.init(manifests.root)
    return fleet


@pytest.fixture(scope="session")
def installed_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fleet as a user has it: this repository's wheel, `pip install`ed into a new virtualenv (with the
    `local` extra), built and installed once a session. The virtualenv's bin folder."""
    folder = tmp_path_factory.mktemp("wheel")
    return wheel.install(wheel.build(wheel.source(folder / "source"), folder / "dist"), folder / "venv")
