"""`fleet validate` and `fleet schema` as a user (or a pre-commit hook) runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Manifests

REPO = Path(__file__).resolve().parents[2]


def fleet(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_validate_accepts_the_example_fleet() -> None:
    done = fleet("validate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "manifests: valid: 2 accounts, 2 CAs in 5 placements, "
        "5 device certificates in 1 group (2 placements), 1 policy, "
        "1 revocation in the ledger"
    )


def test_validate_lists_every_problem_with_file_and_line_and_fails(manifests: Manifests) -> None:
    manifests.text(
        "accounts.yaml", "accounts:\n  prod:\n    id: '12'\n    deployer_role_arn: nope\n    regions: [us-east-1]\n"
    )
    done = fleet("validate", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "2 problems in the manifests; nothing was changed:",
        "  manifests/accounts.yaml:3:9: accounts.prod.id: '12' is not a valid 12-digit account id",
        "  manifests/accounts.yaml:4:24: accounts.prod.deployer_role_arn: 'nope' is not a valid IAM role ARN",
    ]


def test_schema_prints_the_json_schema() -> None:
    done = fleet("schema")
    assert json.loads(done.stdout)["title"] == "fleet manifest (v1)"


def test_drift_and_pending_refuse_bad_manifests_before_any_aws_call(manifests: Manifests) -> None:
    manifests.text("accounts.yaml", "accounts:\n  prod:\n    id: '12'\n")
    for command in ("drift", "pending"):
        done = fleet(command, "-m", str(manifests.root), cwd=manifests.root.parent)
        assert done.returncode == 1, done.stdout
        assert done.stderr.startswith("3 problems in the manifests; nothing was changed:"), done.stderr
        assert "manifests/accounts.yaml:3:9: accounts.prod.id: '12' is not a valid 12-digit account id" in done.stderr


def test_jitr_config_carries_the_manifests_revocations(tmp_path: Path) -> None:
    from fleet.crypto import pki

    done = fleet("jitr-config", "--output", str(tmp_path / "fleet-jitr.json"))
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "fleet-jitr.json").read_text())
    stolen = pki.certificate_id(
        pki.load_certificate((REPO / "manifests/pki/devices/line-1/device-0003.pem").read_bytes())
    )
    # No placement of the example auto-activates; every account and region, with the role read there.
    assert config == {
        "version": 1,
        "placements": {},
        "revoked": [stolen],
        "places": {
            f"{account}/{region}": f"arn:aws:iam::{account}:role/fleet-jitr-reader"
            for account in ("111111111111", "222222222222")
            for region in ("eu-west-1", "us-east-1")
        },
    }


def test_validate_reports_every_mistake_in_one_run(tmp_path: Path) -> None:
    """Three mistakes in three files, schema and cross-file alike, in one run:
    the rules still check what the schema let through, and say nothing more
    about the account whose own problem is already reported."""
    import shutil

    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    edits = {
        "accounts.yaml": (
            "222222222222:role/fleet-deployer\n    regions:",
            "222222222222:role/fleet-deployer\n    regoins:",
        ),
        "cas.yaml": (
            "      - account: prod\n        regions: [us-east-1]",
            "      - account: prd\n        regions: [us-east-1]",
        ),
        "devices.yaml": ("policies: [telemetry]", "policies: [telemtry]"),
    }
    for name, (old, new) in edits.items():
        path = tmp_path / "manifests" / name
        assert path.read_text().count(old) == 1, name
        path.write_text(path.read_text().replace(old, new))
    done = fleet("validate", "-m", "manifests", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "4 problems in the manifests; nothing was changed:",
        "  manifests/accounts.yaml:11:5: accounts.staging.regions: required field is missing",
        "  manifests/accounts.yaml:13:5: accounts.staging.regoins: unknown field 'regoins' (did you mean 'regions'?)",
        "  manifests/cas.yaml:26:18: cas.partner-ca.placements[0].account: unknown account 'prd' "
        "(did you mean 'prod'?)",
        "  manifests/devices.yaml:15:16: device_certificates.line-1.policies[0]: unknown policy 'telemtry' "
        "(did you mean 'telemetry'?)",
    ]  # and not a word on partner-ca's placement in staging: the account's own problem says it all
