"""`fleet audit` as a user and the pull-request workflow run it: text, --json, --sarif (valid SARIF 2.1.0),
--fail-on, suppressions, and no false alarm on this repository's example fleet or on `fleet init`'s."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fleet.audit.findings import CHECKS
from tests.audit_support import CAS, SOUND_POLICY, small_fleet
from tests.conftest import Manifests

REPO = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((REPO / "schema/sarif-2.1.0.json").read_text())
PERMISSIVE = {
    "Version": "2012-10-17",
    "Statement": [SOUND_POLICY["Statement"][0], {"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
}
TOMORROW = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
YESTERDAY = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()


def fleet(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


def valid_sarif(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    errors = sorted(jsonschema.Draft7Validator(SARIF_SCHEMA).iter_errors(document), key=str)
    assert not errors, [e.message for e in errors]
    return document


def test_the_example_fleet_has_no_finding(tmp_path: Path) -> None:
    done = fleet("audit", "--sarif", str(tmp_path / "audit.sarif"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "manifests: no findings"
    sarif = valid_sarif(tmp_path / "audit.sarif")
    [run] = sarif["runs"]
    assert run["results"] == []
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == sorted(CHECKS)  # one rule per check
    assert json.loads(fleet("audit", "--json").stdout) == []


def test_the_fleet_init_writes_has_no_finding(tmp_path: Path) -> None:
    assert fleet("init", "team-fleet", "--account-id", "123456789012", cwd=tmp_path).returncode == 0
    done = fleet("audit", cwd=tmp_path / "team-fleet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "manifests: no findings"


@pytest.fixture
def risky(manifests: Manifests) -> Manifests:
    """A critical finding (an overly permissive policy) and a medium one (a certificate expiring in 10 days)."""
    small_fleet(manifests, devices=1, policy=PERMISSIVE, days=11)
    return manifests


def test_each_finding_is_a_line_with_its_file_severity_check_resource_and_places(risky: Manifests) -> None:
    done = fleet("audit", "-m", str(risky.root), cwd=risky.root.parent)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(
        "manifests/telemetry.json:9:1: critical IOT_POLICY_OVERLY_PERMISSIVE_CHECK: "
        "policy:telemetry in prod (111111111111), eu-west-1; prod (111111111111), us-east-1: "
        "policy telemetry: Statement[1] lets a device connect with any client ID"
    )
    assert lines[1].startswith(
        "manifests/devices.yaml:5:3: medium DEVICE_CERTIFICATE_EXPIRING_CHECK: certificate:devices/device-0.pem in "
    )
    assert lines[2] == f"{risky.root}: 2 findings (1 critical, 1 medium)"


def test_json_lists_every_finding_located(risky: Manifests) -> None:
    done = fleet("audit", "-m", str(risky.root), "--json", cwd=risky.root.parent)
    assert done.returncode == 1
    critical, medium = json.loads(done.stdout)
    assert critical == {
        "check": "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
        "severity": "critical",
        "reason_code": "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
        "resource": "policy:telemetry",
        "message": critical["message"],
        "file": "manifests/telemetry.json",
        "line": 9,
        "column": 1,
        "places": [
            {"account": "prod", "account_id": "111111111111", "region": "eu-west-1"},
            {"account": "prod", "account_id": "111111111111", "region": "us-east-1"},
        ],
        "suppressed": None,
    }
    assert medium["check"] == "DEVICE_CERTIFICATE_EXPIRING_CHECK" and medium["line"] == 5


def test_fail_on_sets_the_severity_that_fails(risky: Manifests) -> None:
    small_fleet(risky, devices=1, days=11)  # the expiring certificate alone: medium
    args = ("audit", "-m", str(risky.root))
    assert fleet(*args, cwd=risky.root.parent).returncode == 1
    assert fleet(*args, "--fail-on", "medium", cwd=risky.root.parent).returncode == 1
    assert fleet(*args, "--fail-on", "high", cwd=risky.root.parent).returncode == 0
    wrong = fleet(*args, "--fail-on", "severe", cwd=risky.root.parent)
    assert wrong.returncode == 1 and "--fail-on is one of low, medium, high, critical, not 'severe'" in wrong.stderr


def test_sarif_has_one_result_per_finding_at_its_file_and_line(risky: Manifests, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(risky.root.parent)], check=True)
    done = fleet("audit", "-m", str(risky.root), "--sarif", str(tmp_path / "a.sarif"), cwd=risky.root.parent)
    assert done.returncode == 1
    [run] = valid_sarif(tmp_path / "a.sarif")["runs"]
    rules = run["tool"]["driver"]["rules"]
    critical, medium = run["results"]
    assert rules[critical["ruleIndex"]]["id"] == critical["ruleId"] == "IOT_POLICY_OVERLY_PERMISSIVE_CHECK"
    assert rules[critical["ruleIndex"]]["properties"]["security-severity"] == "9.5"
    assert critical["level"] == "error" and medium["level"] == "warning"
    assert critical["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "manifests/telemetry.json", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 9, "startColumn": 1},
    }
    assert medium["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "manifests/devices.yaml"
    assert "suppressions" not in critical


def test_a_suppression_with_a_reason_and_a_future_expiry_silences_exactly_its_finding(
    risky: Manifests, tmp_path: Path
) -> None:
    risky.text(
        "audit.yaml",
        f"audit:\n  suppressions:\n    - check: IOT_POLICY_OVERLY_PERMISSIVE_CHECK\n"
        f"      resource: policy:telemetry\n      reason: lab devices, isolated account\n"
        f"      expires: {TOMORROW}\n",
    )
    args = ("audit", "-m", str(risky.root), "--fail-on", "high")
    done = fleet(*args, "--sarif", str(tmp_path / "a.sarif"), cwd=risky.root.parent)
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0].endswith(f"[suppressed until {TOMORROW}: lab devices, isolated account]")
    assert done.stdout.splitlines()[-1] == f"{risky.root}: 1 finding (1 medium), 1 suppressed"
    listed = json.loads(fleet(*args, "--json", cwd=risky.root.parent).stdout)
    assert listed[0]["suppressed"] == {
        "reason": "lab devices, isolated account",
        "expires": TOMORROW,
        "file": "manifests/audit.yaml",
        "line": 3,
    }
    assert listed[1]["suppressed"] is None  # another check, same fleet: still reported
    [run] = valid_sarif(tmp_path / "a.sarif")["runs"]
    assert run["results"][0]["suppressions"][0]["kind"] == "inSource"


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (f"reason: accepted\n      expires: {YESTERDAY}", f"expired on {YESTERDAY}"),
        (f"expires: {TOMORROW}", "gives no reason"),
        ("reason: accepted", "has no expiry date"),
    ],
)
def test_an_expired_or_reasonless_suppression_silences_nothing_and_is_a_finding(
    risky: Manifests, entry: str, why: str
) -> None:
    risky.text(
        "audit.yaml",
        "audit:\n  suppressions:\n    - check: IOT_POLICY_OVERLY_PERMISSIVE_CHECK\n"
        f"      resource: policy:telemetry\n      {entry}\n",
    )
    done = fleet("audit", "-m", str(risky.root), "--json", "--fail-on", "high", cwd=risky.root.parent)
    assert done.returncode == 1
    found = {f["check"]: f for f in json.loads(done.stdout)}
    assert found["IOT_POLICY_OVERLY_PERMISSIVE_CHECK"]["suppressed"] is None
    suppression = found["AUDIT_SUPPRESSION_CHECK"]
    assert why in suppression["message"] and (suppression["file"], suppression["line"]) == ("manifests/audit.yaml", 3)


def test_a_suppression_of_another_resource_or_an_unknown_check_silences_nothing(risky: Manifests) -> None:
    risky.text(
        "audit.yaml",
        f"audit:\n  suppressions:\n    - check: IOT_POLICY_OVERLY_PERMISSIVE_CHECK\n"
        f"      resource: policy:other\n      reason: r\n      expires: {TOMORROW}\n"
        f"    - check: IOT_POLICY_OVERLY_PERMISIVE_CHECK\n"
        f"      resource: policy:telemetry\n      reason: r\n      expires: {TOMORROW}\n",
    )
    found = json.loads(fleet("audit", "-m", str(risky.root), "--json", cwd=risky.root.parent).stdout)
    assert all(f["suppressed"] is None for f in found)
    misnamed, unknown = sorted((f for f in found if f["check"] == "AUDIT_SUPPRESSION_CHECK"), key=lambda f: f["line"])
    assert "names no check fleet runs (did you mean IOT_POLICY_OVERLY_PERMISSIVE_CHECK?)" in unknown["message"]
    assert unknown["line"] == 7
    # the one of another resource matches nothing, and says which resource the finding names
    assert "for policy:other matches no finding (did you mean policy:telemetry?)" in misnamed["message"]
    assert misnamed["line"] == 3 and misnamed["severity"] == "low"


def test_bad_manifests_are_refused_with_their_lines_and_nothing_else(manifests: Manifests) -> None:
    small_fleet(manifests)
    manifests.text("audit.yaml", "audit:\n  device_certificate_age_days: 5\n  suppresions: []\n")
    done = fleet("audit", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 1 and done.stdout == ""
    assert (
        "manifests/audit.yaml:2:32: audit.device_certificate_age_days: Input should be greater than or equal "
        "to 30" in done.stderr
    )
    assert "unknown field 'suppresions' (did you mean 'suppressions'?)" in done.stderr


def _commit(root: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message],
        cwd=root,
        check=True,
    )


def test_review_with_a_base_shows_only_the_findings_the_change_introduces(manifests: Manifests, tmp_path: Path) -> None:
    small_fleet(manifests, devices=1, days=11)  # a medium finding the base already has
    subprocess.run(["git", "init", "-q", "-b", "main", str(manifests.root.parent)], check=True)
    _commit(manifests.root.parent, "base")
    subprocess.run(["git", "checkout", "-q", "-b", "change"], cwd=manifests.root.parent, check=True)
    plan = REPO / "tests/fixtures/review/plan.json"
    args = ("review", str(plan), "--no-aws", "--base", "main", "-m", str(manifests.root))
    unchanged = fleet(*args, cwd=manifests.root.parent)
    assert unchanged.returncode == 0, unchanged.stderr
    assert "fleet audit" not in unchanged.stdout  # nothing new: the expiring certificate was there before

    manifests.text("telemetry.json", json.dumps(PERMISSIVE, indent=2))
    _commit(manifests.root.parent, "a permissive policy")
    review = fleet(*args, cwd=manifests.root.parent).stdout
    lines = review.splitlines()
    assert lines[3:5] == [
        "> [!CAUTION]",
        "> **`fleet audit`: this change introduces 1 finding(s), high or critical among them:**",
    ]  # at the top, right under the heading
    assert lines[5].startswith("> - **critical** `IOT_POLICY_OVERLY_PERMISSIVE_CHECK` policy:telemetry in ")
    assert lines[5].endswith("(`manifests/telemetry.json:9`)")
    assert "DEVICE_CERTIFICATE_EXPIRING_CHECK" not in review


def test_review_lists_new_medium_findings_after_the_changes(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1)
    subprocess.run(["git", "init", "-q", "-b", "main", str(manifests.root.parent)], check=True)
    _commit(manifests.root.parent, "base")
    subprocess.run(["git", "checkout", "-q", "-b", "change"], cwd=manifests.root.parent, check=True)
    small_fleet(manifests, devices=1, days=11)  # a new certificate that expires in 10 days
    review = fleet(
        "review",
        str(REPO / "tests/fixtures/review/plan.json"),
        "--no-aws",
        "--base",
        "main",
        "-m",
        str(manifests.root),
        cwd=manifests.root.parent,
    ).stdout
    assert "[!CAUTION]\n> **`fleet audit`" not in review
    section = review.index("`fleet audit`: this change introduces 1 finding(s):")
    assert review.index("### ") < section < review.index("<sub>Pulumi resources")
    assert "**medium** `DEVICE_CERTIFICATE_EXPIRING_CHECK` certificate:devices/device-0.pem" in review


def test_a_link_out_of_the_tree_in_the_base_is_skipped_not_a_traceback(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, days=11)
    (manifests.root.parent / "elsewhere").symlink_to("/etc/passwd")  # committed to the base
    subprocess.run(["git", "init", "-q", "-b", "main", str(manifests.root.parent)], check=True)
    _commit(manifests.root.parent, "base")
    subprocess.run(["git", "checkout", "-q", "-b", "change"], cwd=manifests.root.parent, check=True)
    manifests.text("telemetry.json", json.dumps(PERMISSIVE, indent=2))
    _commit(manifests.root.parent, "a permissive policy")
    args = ("review", str(REPO / "tests/fixtures/review/plan.json"), "--no-aws", "--base", "main")
    done = fleet(*args, "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "IOT_POLICY_OVERLY_PERMISSIVE_CHECK" in done.stdout  # introduced
    assert "DEVICE_CERTIFICATE_EXPIRING_CHECK" not in done.stdout  # already on the base


def test_a_finding_the_base_has_is_introduced_where_the_change_takes_it(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, days=11)  # an expiring certificate, in us-east-1 only at first
    manifests.text(
        "cas.yaml", CAS.replace("      - account: prod\n", "      - account: prod\n        regions: [us-east-1]\n")
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(manifests.root.parent)], check=True)
    _commit(manifests.root.parent, "base")
    subprocess.run(["git", "checkout", "-q", "-b", "change"], cwd=manifests.root.parent, check=True)
    args = ("review", str(REPO / "tests/fixtures/review/plan.json"), "--no-aws", "--base", "main")
    assert "DEVICE_CERTIFICATE_EXPIRING_CHECK" not in fleet(*args, "-m", str(manifests.root)).stdout
    manifests.text("cas.yaml", CAS)  # the CA, and its certificates, in eu-west-1 too
    _commit(manifests.root.parent, "eu-west-1")
    review = fleet(*args, "-m", str(manifests.root), cwd=manifests.root.parent).stdout
    assert "DEVICE_CERTIFICATE_EXPIRING_CHECK" in review and "eu-west-1" in review
