"""A synthetic fleet of N certificates over 2 accounts x 2 regions (devtools.benchmark's), and
the check that AWS holds exactly what it declares: each certificate once, with its status and
its policy, and the policy's default version the declared document."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from devtools.benchmark import ACCOUNTS, REGIONS, write_fleet
from devtools.endpoint import LocalAws
from devtools.pulumi_cli import PulumiProject, scratch_project
from fleet.crypto import pki
from tests.conftest import client_in

__all__ = ["Synthetic"]


class Synthetic:
    def __init__(self, root: Path, aws: LocalAws, certificates: int, **env: str):
        self.root = root
        self.aws = aws
        self.manifests = root / "manifests"
        write_fleet(self.manifests, certificates)
        self.project: PulumiProject = scratch_project(root / "project", root / "state", **aws.environment(), **env)
        self.project.init(self.manifests)
        self.statuses: dict[str, str] = {}  # group (account-region) -> its status

    def places(self) -> list[tuple[str, str, str]]:
        return [(account, number, region) for account, number in ACCOUNTS.items() for region in REGIONS]

    def fingerprints(self, account: str, region: str) -> set[str]:
        folder = self.manifests / "devices" / f"{account}-{region}"
        return {pki.certificate_id(pki.load_certificate(p.read_bytes())) for p in folder.glob("*.pem")}

    def change(self) -> None:
        """A second revision: one group made INACTIVE and a new policy document (CreatePolicyVersion)."""
        fleet_yaml = self.manifests / "fleet.yaml"
        text = fleet_yaml.read_text()
        group = "    certificates: devices/prod-us-east-1\n"
        fleet_yaml.write_text(text.replace(group, group + "    status: INACTIVE\n", 1))
        self.statuses["prod-us-east-1"] = "INACTIVE"
        (self.manifests / "telemetry.json").write_text(
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": ["iot:Connect", "iot:Publish"], "Resource": "*"}],
                }
            )
        )

    def assert_aws_equals_manifests(self) -> None:
        document = json.loads((self.manifests / "telemetry.json").read_text())
        for account, number, region in self.places():
            iot = client_in(self.aws, "iot", number, region)
            listed: list[dict[str, Any]] = []
            for page in iot.get_paginator("list_certificates").paginate(pageSize=250):
                listed += page["certificates"]
            counted = Counter(c["certificateId"] for c in listed)
            assert not [fp for fp, n in counted.items() if n > 1], f"duplicated in {account}/{region}"
            expected = self.fingerprints(account, region)
            assert set(counted) == expected, f"{account}/{region}: {len(set(counted) ^ expected)} differ"
            status = self.statuses.get(f"{account}-{region}", "ACTIVE")
            wrong = [c["certificateId"] for c in listed if c["status"] != status]
            assert not wrong, f"{len(wrong)} certificates in {account}/{region} are not {status}"
            targets: list[str] = []
            for page in iot.get_paginator("list_targets_for_policy").paginate(policyName="telemetry"):
                targets += page["targets"]
            assert sorted(targets) == sorted(c["certificateArn"] for c in listed), (
                f"{account}/{region}: {len(set(targets) ^ {c['certificateArn'] for c in listed})} without the policy"
            )
            default = iot.get_policy(policyName="telemetry")
            assert json.loads(default["policyDocument"]) == document, f"{account}/{region}: policy document"
            versions = iot.list_policy_versions(policyName="telemetry")["policyVersions"]
            assert len(versions) == 1, f"{account}/{region}: {len(versions)} policy versions"

    def assert_converged(self) -> None:
        """No change proposed on a refreshed preview, no drift by `fleet drift`, and AWS as declared."""
        self.project.preview("--refresh", "--expect-no-changes")
        drift = subprocess.run(
            [sys.executable, "-m", "fleet", "drift", "-m", str(self.manifests)],
            env=self.project.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert drift.returncode == 0, drift.stdout + drift.stderr
        self.assert_aws_equals_manifests()
