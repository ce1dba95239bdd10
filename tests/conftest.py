"""Shared fixtures: the local AWS endpoint, clients on it, and manifest folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ruamel.yaml import YAML

from devtools.endpoint import LocalAws
from devtools.pki import Issued, make_ca
from fleet.aws import session

PROD = {
    "id": "111111111111",
    "deployer_role_arn": "arn:aws:iam::111111111111:role/fleet-deployer",
    "regions": ["us-east-1", "eu-west-1"],
}
STAGING = {
    "id": "222222222222",
    "deployer_role_arn": "arn:aws:iam::222222222222:role/fleet-deployer",
    "regions": ["us-east-1", "eu-west-1"],
}


@pytest.fixture(autouse=True)
def no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test can reach real AWS: no real credentials, no config, a dead endpoint."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "no-real-aws-in-tests")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "no-real-aws-in-tests")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("FLEET_AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    # The process's one session factory reads the environment once, when first asked: a test that asked
    # before (here, the dead endpoint) would leave every later test of this worker calling its endpoint.
    monkeypatch.setattr(session, "_shared", [])


@pytest.fixture(scope="session")
def local_aws_server() -> Iterator[LocalAws]:
    with LocalAws() as server:
        yield server


@pytest.fixture
def local_aws(local_aws_server: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """The local endpoint with fleet's fixes, emptied for this test."""
    local_aws_server.reset()
    for name, value in local_aws_server.environment().items():
        monkeypatch.setenv(name, value)
    return local_aws_server


@pytest.fixture(scope="session")
def plain_moto_server() -> Iterator[LocalAws]:
    with LocalAws(plain=True) as server:
        yield server


def client_in(
    endpoint: LocalAws, service: str, account_id: str, region: str = "us-east-1", role: str = "console-admin"
) -> Any:
    """A client acting in ``account_id``, through STS AssumeRole as a real user would."""
    assert account_id.isdigit() and len(account_id) == 12, account_id  # moto would fall back to its default
    base = dict(
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id="console-user",
        aws_secret_access_key="console-user",
    )
    sts = boto3.client("sts", **base)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="console")["Credentials"]
    return boto3.client(
        service,
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


class Manifests:
    """Writes a manifests folder for a test: YAML files plus PEM files."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.cas: dict[str, Issued] = {}

    def ca(self, name: str, **kwargs: Any) -> Issued:
        issued = make_ca(f"{name} CA", **kwargs)
        issued.write(self.root / "pki" / f"{name}.pem")
        self.cas[name] = issued
        return issued

    def write(self, filename: str, data: dict[str, Any]) -> Path:
        path = self.root / filename
        yaml = YAML()
        yaml.default_flow_style = False
        with path.open("w") as stream:
            yaml.dump(data, stream)
        return path

    def text(self, filename: str, text: str) -> Path:
        path = self.root / filename
        path.write_text(text)
        return path


@pytest.fixture
def manifests(tmp_path: Path) -> Manifests:
    return Manifests(tmp_path / "manifests")


def load_manifests(manifests: Manifests, regions: frozenset[str]) -> Any:
    """Load a test's manifests, naming files as "manifests/..." in problems."""
    from fleet.manifest import load_fleet

    return load_fleet(manifests.root, known_regions=regions, display_root=manifests.root.parent)


def record_ledger(manifests: Manifests, regions: frozenset[str] = frozenset({"us-east-1", "eu-west-1"})) -> None:
    """What `fleet record-revocations` does: the ledger entries of what the manifests mark REVOKED."""
    from fleet.manifest import load_fleet
    from fleet.revocation import ledger

    fleet = load_fleet(manifests.root, known_regions=regions, unrecorded_ok=True)
    ledger.record(manifests.root, fleet, ledger.declared_revocations(fleet, manifests.root))


def problems_in(manifests: Manifests, regions: frozenset[str]) -> list[str]:
    """The problems loading a test's manifests reports, as the user reads them."""
    from fleet.manifest import ManifestError

    with pytest.raises(ManifestError) as caught:
        load_manifests(manifests, regions)
    return [str(p) for p in caught.value.problems]
