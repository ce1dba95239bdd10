"""The revocation ledger: what `fleet validate` checks of it and against it,
what the commands write into it, and its memory in git (history, --base)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.pki import Issued, issue
from fleet.crypto import pki
from fleet.manifest import ledger_history as history
from tests.conftest import Manifests, problems_in, record_ledger
from tests.unit.test_device_manifests import ACCOUNTS, CAS, POLICIES, REGIONS, TELEMETRY, load

REVOKED_GROUP = """\
device_certificates:
  line-1:
    ca: root
    certificates: devices
    exceptions:
      - certificate: devices/device-1.pem
        status: REVOKED
        revocation: {reason: stolen, date: 2026-11-01}
"""
GIT = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


@pytest.fixture
def root(manifests: Manifests) -> Issued:
    return manifests.ca("root")


@pytest.fixture
def devices(manifests: Manifests, root: Issued) -> list[Issued]:
    made = [issue(root, f"device-{n}") for n in range(3)]
    for n, cert in enumerate(made):
        cert.write(manifests.root / "devices" / f"device-{n}.pem")
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text("cas.yaml", CAS)
    manifests.text("policies.yaml", POLICIES)
    manifests.text("telemetry.json", str(TELEMETRY).replace("'", '"'))
    manifests.text("devices.yaml", REVOKED_GROUP)
    return made


def fp(cert: Issued) -> str:
    return pki.certificate_id(cert.cert)


def fleet_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args], cwd=cwd, capture_output=True, text=True, check=False, env=GIT
    )


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=GIT)


def test_a_revocation_in_the_manifests_needs_its_ledger_entry_and_the_command_that_writes_it(
    manifests: Manifests, devices: list[Issued]
) -> None:
    [problem] = problems_in(manifests, REGIONS)
    assert problem == (
        f"manifests/devices.yaml:6:9: device_certificates.line-1.exceptions[0]: devices/device-1.pem "
        f"({fp(devices[1])[:12]}…) is REVOKED here, but the revocation ledger does not record it in account prod "
        "(111111111111), eu-west-1 and account prod (111111111111), us-east-1: `fleet record-revocations` writes it"
    )
    done = fleet_cli("record-revocations", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 0, done.stderr
    ledger = (manifests.root / "revocations.yaml").read_text()
    assert ledger.endswith(
        "revocations:\n  roles:\n    '111111111111': arn:aws:iam::111111111111:role/fleet-deployer\n  entries:\n"
        "    - date: 2026-11-01\n      reason: stolen\n      ca: root\n      places:\n"
        f"        - 111111111111/eu-west-1\n        - 111111111111/us-east-1\n      certificates: |\n"
        f"        {fp(devices[1])}\n"
    )
    assert (manifests.root / "revoked" / f"{fp(devices[1])}.pem").read_text() == devices[1].cert_pem
    fleet = load(manifests)
    assert fleet.ledger.revocations[fp(devices[1])].date == "2026-11-01"
    # Recording again writes nothing: every revocation is recorded.
    again = fleet_cli("record-revocations", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert "records every revocation the manifests make" in again.stdout


def test_a_certificate_the_ledger_revoked_is_refused_anywhere_under_any_name_with_or_without_a_ca(
    manifests: Manifests, devices: list[Issued]
) -> None:
    record_ledger(manifests)
    # Its entry gone from the group, it comes back elsewhere, without a CA, under another name.
    manifests.text(
        "devices.yaml",
        "device_certificates:\n  line-1:\n    ca: root\n    certificates: devices/"
        "device-0.pem\n  second-life:\n    certificates: devices/device-1.pem\n"
        "    placements: [{account: prod, regions: [eu-west-1]}]\n    status: INACTIVE\n",
    )
    [problem] = problems_in(manifests, REGIONS)
    assert problem.startswith(
        f"manifests/devices.yaml:5:3: device_certificates.second-life: certificate {fp(devices[1])} "
        "(devices/device-1.pem) is declared INACTIVE at manifests/devices.yaml:5, but it was revoked on 2026-11-01 in "
        "account prod (111111111111), eu-west-1 and account prod (111111111111), us-east-1 (the revocation ledger, "
        "manifests/revocations.yaml:"
    )
    assert problem.endswith(
        "a revoked certificate is never reactivated. Adopt the revocation: set it REVOKED in "
        "the manifests, with its revocation (reason, date)."
    )


def test_a_revoked_certificate_declared_active_with_its_revocation_left_is_refused_as_a_reactivation_first(
    manifests: Manifests, devices: list[Issued]
) -> None:
    """The real reason (a revoked certificate is never reactivated) comes before the
    revocation the status change left behind, in `fleet validate` as the user reads it."""
    record_ledger(manifests)
    manifests.text("devices.yaml", REVOKED_GROUP.replace("status: REVOKED", "status: ACTIVE"))
    done = fleet_cli("validate", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 1
    refusal, leftover = (line for line in done.stderr.splitlines() if line.startswith("  manifests/"))
    assert refusal.startswith(
        f"  manifests/devices.yaml:6:9: device_certificates.line-1.exceptions[0]: certificate {fp(devices[1])} "
        "(devices/device-1.pem) is declared ACTIVE at manifests/devices.yaml:6, but it was revoked on 2026-11-01 in "
    )
    assert leftover == (
        "  manifests/devices.yaml:8:21: device_certificates.line-1.exceptions[0].revocation: only status REVOKED "
        "carries a revocation, and the status here is ACTIVE: set it back to REVOKED (a revoked certificate stays "
        "revoked), or remove the revocation if nothing here was ever revoked"
    )
    assert done.stderr.splitlines()[0] == "2 problems in the manifests; nothing was changed:"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "    - date: 2999-01-01\n",
            "revocations.entries[0].date: 2999-01-01 is in the future: a revocation is recorded once it happened",
        ),
        (
            "        - 333333333333/us-east-1\n",
            "revocations.entries[0].places[2]: account 333333333333 is neither in "
            "the manifests' accounts nor in revocations.roles",
        ),
    ],
)
def test_a_ledger_entry_is_dated_and_placed_where_fleet_can_keep_it(
    manifests: Manifests, devices: list[Issued], change: str, message: str
) -> None:
    record_ledger(manifests)
    path = manifests.root / "revocations.yaml"
    text = path.read_text()
    if "date" in change:
        text = text.replace("    - date: 2026-11-01\n", change)
    else:
        text = text.replace("        - 111111111111/us-east-1\n", "        - 111111111111/us-east-1\n" + change)
    path.write_text(text)
    problems = problems_in(manifests, REGIONS)
    assert any(message in p and p.startswith("manifests/revocations.yaml:") for p in problems), problems


def test_ledger_fingerprints_are_one_per_line(manifests: Manifests, devices: list[Issued]) -> None:
    record_ledger(manifests)
    path = manifests.root / "revocations.yaml"
    text = path.read_text()
    path.write_text(text.replace(f"        {fp(devices[1])}\n", f"        {fp(devices[1])} {fp(devices[2])}\n"))
    line = text.splitlines().index(f"        {fp(devices[1])}") + 1
    problems = problems_in(manifests, REGIONS)
    assert any(
        p.startswith(f"manifests/revocations.yaml:{line}:")
        and "is not a fingerprint (64 lowercase hex characters, one per line)" in p
        for p in problems
    ), problems


def test_two_exceptions_for_one_certificate_are_refused_at_the_second(
    manifests: Manifests, devices: list[Issued]
) -> None:
    twice = "      - certificate: devices/device-1.pem\n        status: ACTIVE\n"
    manifests.text("devices.yaml", REVOKED_GROUP + twice)
    problems = problems_in(manifests, REGIONS)
    assert (
        "manifests/devices.yaml:9:22: device_certificates.line-1.exceptions[1].certificate: devices/device-1.pem "
        "already has an exception in this group (exceptions[0], line 6)" in problems
    )


def test_the_history_remembers_every_fingerprint_the_ledger_ever_held(
    manifests: Manifests, devices: list[Issued]
) -> None:
    record_ledger(manifests)
    top = manifests.root.parent
    git(top, "init", "-q")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "ledger")
    assert history.fingerprints(manifests.root) == {fp(devices[1])}
    # The entry and the revocation are removed, merged, and the certificate declared ACTIVE again.
    (manifests.root / "revocations.yaml").unlink()
    manifests.text("devices.yaml", "device_certificates:\n  line-1:\n    ca: root\n    certificates: devices\n")
    git(top, "commit", "-q", "-am", "forget")
    assert history.fingerprints(manifests.root) == {fp(devices[1])}
    done = fleet_cli("validate", "-m", str(manifests.root), cwd=top)
    assert done.returncode == 1
    assert (
        "but it was revoked at an unknown date in the revocation ledger's history (its entry was removed since)"
        in done.stderr
    )


def test_validate_base_refuses_a_change_that_removes_or_alters_an_entry(
    manifests: Manifests, devices: list[Issued]
) -> None:
    record_ledger(manifests)
    top = manifests.root.parent
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "ledger")
    path = manifests.root / "revocations.yaml"
    grown = path.read_text() + (
        "    - date: 2026-11-02\n      reason: also stolen\n      places:\n        - 111111111111/us-east-1\n"
        f"      certificates: |\n        {'ab' * 32}\n"
    )
    path.write_text(grown)
    assert fleet_cli("validate", "--base", "main", "-m", str(manifests.root), cwd=top).returncode == 0  # growth

    path.write_text(grown.replace("reason: stolen", "reason: a mistake"))
    altered = fleet_cli("validate", "--base", "main", "-m", str(manifests.root), cwd=top)
    assert altered.returncode == 1
    assert "the revocation ledger only grows, but since main this change:" in altered.stderr
    assert (
        f"{fp(devices[1])} revoked in 111111111111/us-east-1 on 2026-11-01 (stolen) now reads 2026-11-01 "
        "(a mistake)" in altered.stderr
    )

    first = grown[grown.index("    - date: 2026-11-01") : grown.index("    - date: 2026-11-02")]
    path.write_text(grown.replace(first, ""))  # the first entry, gone
    removed = fleet_cli("validate", "--base", "main", "-m", str(manifests.root), cwd=top)
    assert removed.returncode == 1
    assert (
        f"{fp(devices[1])} revoked in 111111111111/eu-west-1 on 2026-11-01 (stolen; manifests/revocations.yaml:"
        in removed.stderr
        and "is no longer in the ledger" in removed.stderr
    )
    assert history.removed_since("main", manifests.root)


def test_outside_git_validate_says_the_history_was_not_checked(manifests: Manifests, devices: list[Issued]) -> None:
    record_ledger(manifests)
    done = fleet_cli("validate", "-m", str(manifests.root), cwd=manifests.root.parent)
    assert done.returncode == 0
    assert "is not in a git work tree, so the revocation ledger's history was not checked" in done.stderr
    assert history.fingerprints(manifests.root) is None


def test_the_lambda_configuration_carries_the_ledger(
    manifests: Manifests, devices: list[Issued], tmp_path: Path
) -> None:
    import json

    record_ledger(manifests)
    output = tmp_path / "fleet-jitr.json"
    done = fleet_cli("jitr-config", "-m", str(manifests.root), "-o", str(output), cwd=manifests.root.parent)
    assert done.returncode == 0, done.stderr
    assert json.loads(output.read_text())["revoked"] == [fp(devices[1])]


def test_a_revocation_dated_in_the_future_is_refused_in_the_manifests_too(
    manifests: Manifests, devices: list[Issued]
) -> None:
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    manifests.text("devices.yaml", REVOKED_GROUP.replace("2026-11-01", tomorrow.isoformat()))
    assert any(f"{tomorrow} is in the future" in p for p in problems_in(manifests, REGIONS))


# --- The history as CI reads it: relative paths, subfolders, shallow clones -------------------

PLAN = Path(__file__).resolve().parents[1] / "fixtures" / "review" / "plan.json"


def a_removed_entry(manifests: Manifests) -> Path:
    """A repository whose main holds a ledger entry that the work tree removed; its top."""
    record_ledger(manifests)
    top = manifests.root.parent
    (top / "policies").mkdir()
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "ledger")
    (manifests.root / "revocations.yaml").unlink()
    return top


@pytest.mark.parametrize("where", ["root", "subfolder"])
@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_base_works_with_relative_and_absolute_manifests_from_the_root_and_a_subfolder(
    manifests: Manifests, devices: list[Issued], where: str, absolute: bool
) -> None:
    top = a_removed_entry(manifests)
    cwd = top if where == "root" else top / "policies"
    option = str(manifests.root) if absolute else os.path.relpath(manifests.root, cwd)
    gone = f"{fp(devices[1])} revoked in 111111111111/us-east-1 on 2026-11-01 (stolen; manifests/revocations.yaml:"

    validated = fleet_cli("validate", "--base", "main", "-m", option, cwd=cwd)
    assert validated.returncode == 1 and "Traceback" not in validated.stderr, validated.stderr
    assert "the revocation ledger only grows, but since main this change:" in validated.stderr
    assert gone in validated.stderr

    reviewed = fleet_cli("review", str(PLAN), "--no-aws", "--base", "main", "-m", option, cwd=cwd)
    assert reviewed.returncode == 0, reviewed.stderr
    assert "removes or alters entries of the revocation ledger" in reviewed.stdout and gone in reviewed.stdout

    git(top, "checkout", "-q", "--", "manifests")  # the ledger as main has it: nothing removed
    assert fleet_cli("validate", "--base", "main", "-m", option, cwd=cwd).returncode == 0


def test_removed_since_reads_a_relative_manifests_folder(
    manifests: Manifests, devices: list[Issued], monkeypatch: pytest.MonkeyPatch
) -> None:
    top = a_removed_entry(manifests)
    monkeypatch.chdir(top)
    [first, second] = history.removed_since("main", Path("manifests"))
    assert first.startswith(
        f"{fp(devices[1])} revoked in 111111111111/eu-west-1 on 2026-11-01 (stolen; manifests/revocations.yaml:"
    ) and first.endswith("at main) is no longer in the ledger")
    assert second.startswith(f"{fp(devices[1])} revoked in 111111111111/us-east-1")
    monkeypatch.chdir(top / "policies")
    assert history.removed_since("main", Path("../manifests")) == [first, second]


def merged_removal(manifests: Manifests) -> Path:
    """A ledger entry, then a commit that removes it and declares the certificate ACTIVE again; the top."""
    top = a_removed_entry(manifests)
    manifests.text("devices.yaml", "device_certificates:\n  line-1:\n    ca: root\n    certificates: devices\n")
    git(top, "commit", "-q", "-am", "device-1 is fine after all")
    return top


def shallow_clone(top: Path, into: Path) -> Path:
    # A file:// URL: git ignores --depth for a plain local path.
    git(top.parent, "clone", "-q", "--depth", "1", top.as_uri(), str(into))
    assert (
        subprocess.run(
            ["git", "rev-parse", "--is-shallow-repository"], cwd=into, capture_output=True, text=True, check=True
        ).stdout.strip()
        == "true"
    )
    return into


def test_a_shallow_clone_is_deepened_and_its_history_still_refuses(
    manifests: Manifests, devices: list[Issued], tmp_path: Path
) -> None:
    clone = shallow_clone(merged_removal(manifests), tmp_path / "ci")
    # Read as it is, the depth-1 history holds no ledger line: the entry's removal is invisible.
    log = subprocess.run(["git", "log", "-p", "--format="], cwd=clone, capture_output=True, text=True, check=True)
    assert not [line for line in log.stdout.splitlines() if history.LINE.match(line.encode())]
    notes: list[str] = []
    assert history.fingerprints(clone / "manifests", note=notes.append) == {fp(devices[1])}
    assert notes == [
        f"{clone.resolve()} was a shallow clone: fetched its whole history (git fetch --unshallow) for "
        "the revocation ledger's history"
    ]
    assert not (clone / ".git" / "shallow").exists()
    done = fleet_cli("validate", cwd=clone)
    assert done.returncode == 1
    assert "but it was revoked at an unknown date in the revocation ledger's history" in done.stderr


def test_a_shallow_clone_that_cannot_be_deepened_is_refused_naming_the_fix(
    manifests: Manifests, devices: list[Issued], tmp_path: Path
) -> None:
    top = merged_removal(manifests)
    clone = shallow_clone(top, tmp_path / "ci")
    git(clone, "remote", "set-url", "origin", (tmp_path / "gone").as_uri())  # the remote is out of reach
    with pytest.raises(history.HistoryIncomplete) as refused:
        history.fingerprints(clone / "manifests")
    assert str(refused.value).startswith(
        f"{clone.resolve()} is a shallow clone, so its history would hide a "
        "ledger entry removed before its oldest commit, and deepening it failed ("
    )
    done = fleet_cli("validate", cwd=clone)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"cannot read the revocation ledger's history: {clone.resolve()} is a shallow clone")
    assert (
        "fetch the whole history and run again: `git fetch --unshallow`, or clone without a depth "
        "(GitHub's actions/checkout: fetch-depth: 0; GitLab: GIT_DEPTH: 0; Jenkins: no shallow clone)"
        in " ".join(done.stderr.split())
    )
    assert (clone / ".git" / "shallow").exists()  # nothing pretended: still shallow
