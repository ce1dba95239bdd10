"""The GitOps loop through the real Pulumi engine and the project's own scripts
(the ones .github/workflows run): drift of every kind named by
`pulumi preview --refresh --expect-no-changes` and by `fleet drift`, put back
by `pulumi up`; pending just-in-time registrations adopted with
`fleet pending --adopt` or activated by a CA's auto_activation."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from devtools.pki import Issued, issue, make_crl
from devtools.pulumi_cli import ENGINE, REPO
from fleet.crypto import pki
from fleet.reports.review import render
from tests.engine.conftest import Fleet
from tests.engine.entry_display import shows
from tests.engine.test_device_certificates import Devices

pytestmark = pytest.mark.engine


@pytest.fixture
def devices(fleet: Fleet) -> Devices:
    return Devices(fleet)


def script(
    fleet: Fleet, name: str, *args: str, ok: tuple[int, ...] = (0,), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(REPO / "scripts" / name), *args],
        env={**fleet.project.env(), **(env or {})},
        cwd=fleet.project.workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in ok, f"{name} {args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def drift_kinds(fleet: Fleet, ok: tuple[int, ...] = (7,)) -> dict[str, int]:
    done = script(fleet, "fleet.sh", "drift", "--json", "-m", str(fleet.manifests.root), ok=ok)
    return dict(json.loads(done.stdout)["counts"])


def register_pending(fleet: Fleet, device: Issued, region: str = "us-east-1") -> str:
    """What AWS does at a device's first connection under a CA with auto-registration."""
    reply = fleet.iot("prod", region).register_certificate(
        certificatePem=device.cert_pem, caCertificatePem=fleet.root.cert_pem, status="PENDING_ACTIVATION"
    )
    return str(reply["certificateId"])


def status_and_policies(fleet: Fleet, certificate_id: str) -> tuple[str, list[str]]:
    iot = fleet.iot("prod")
    description = iot.describe_certificate(certificateId=certificate_id)["certificateDescription"]
    attached = iot.list_attached_policies(target=description["certificateArn"])["policies"]
    return str(description["status"]), sorted(p["policyName"] for p in attached)


@pytest.mark.oldest
def test_every_kind_of_drift_is_named_then_put_back(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    assert drift_kinds(fleet, ok=(0,)) == {}
    iot = fleet.iot("prod")
    arn = {c["certificateId"]: c["certificateArn"] for c in iot.list_certificates()["certificates"]}
    # A device registers itself; then, by hand, behind git's back:
    stranger = register_pending(fleet, issue(fleet.root, "jitr-device"))
    iot.update_ca_certificate(certificateId=fleet.ca_id("root"), newStatus="INACTIVE")
    iot.update_certificate(certificateId=devices.fingerprint(0), newStatus="INACTIVE")
    iot.create_policy_version(
        policyName="telemetry",
        policyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
        ),
    )
    iot.detach_policy(policyName="telemetry", target=arn[devices.fingerprint(1)])
    iot.attach_policy(policyName="telemetry", target=f"arn:aws:iot:us-east-1:111111111111:cert/{stranger}")

    # As the scheduled workflow runs it.
    preview = script(
        fleet,
        "pulumi.sh",
        "preview",
        "--stack",
        fleet.project.stack,
        "--non-interactive",
        "--refresh",
        "--diff",
        "--expect-no-changes",
        ok=(ENGINE.changes,),
    )
    preview_output = preview.stdout + preview.stderr
    # Each resource that holds a difference is named, and nothing else (progress lines may interleave).
    shards = {f"certs.prod.us-east-1.{fp[0]}" for fp in (devices.fingerprint(0), devices.fingerprint(1), stranger)}
    assert set(re.findall(r"fleet:\w+ (\S+) update\b", preview_output)) | set(
        re.findall(r"fleet:\w+::(\S+)\]", preview_output)
    ) >= {*shards, "policy.telemetry.prod.us-east-1", "root.prod.us-east-1"}
    assert f"~ {len(shards) + 2} to update" in preview_output
    if ENGINE.names_drifted_keys:  # and the key that drifted, AWS's value first
        for named in (
            '~ status: "INACTIVE" => "ACTIVE"',
            f'{devices.fingerprint(0)}: "INACTIVE" => "ACTIVE"',
            '"2"',  # the version made by hand
        ):
            assert named in preview_output, named
        assert shows(preview_output, "-", devices.fingerprint(1), {"status": "ACTIVE", "not_attached": ["telemetry"]})
        assert shows(preview_output, "+", devices.fingerprint(1), "ACTIVE")
        assert shows(preview_output, "-", stranger, {"status": "PENDING_ACTIVATION", "also_attached": ["telemetry"]})

    table = script(fleet, "fleet.sh", "drift", "-m", str(fleet.manifests.root), ok=(7,)).stdout
    assert "Drift: 6 difference(s)" in table and "pending-activation" in table
    assert drift_kinds(fleet) == {
        "ca-status": 1,
        "certificate-status": 1,
        "pending-activation": 1,
        "policy-attached": 1,
        "policy-detached": 1,
        "policy-versions": 1,
    }

    fleet.project.up("--refresh")
    assert fleet.describe("root", "prod")["status"] == "ACTIVE"
    assert status_and_policies(fleet, devices.fingerprint(0)) == ("ACTIVE", ["telemetry"])
    assert status_and_policies(fleet, devices.fingerprint(1)) == ("ACTIVE", ["telemetry"])
    assert status_and_policies(fleet, stranger) == ("PENDING_ACTIVATION", [])  # detached; never activated
    assert [v["versionId"] for v in iot.list_policy_versions(policyName="telemetry")["policyVersions"]] == ["1"]
    # What only the manifests can settle is left, and still reported.
    assert drift_kinds(fleet) == {"pending-activation": 1}


def test_pending_registrations_are_listed_and_adopted_into_the_manifests(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    pending = register_pending(fleet, issue(fleet.root, "jitr-device"))
    listed = script(fleet, "fleet.sh", "pending", "-m", str(fleet.manifests.root)).stdout
    assert "1 pending just-in-time registration(s)" in listed and pending[:20] in listed.replace("\n", "")
    before = (fleet.manifests.root / "devices.yaml").read_text()

    script(fleet, "fleet.sh", "pending", "--adopt", "-m", str(fleet.manifests.root))

    after = (fleet.manifests.root / "devices.yaml").read_text()
    assert after.startswith(before.rstrip("\n"))  # round-trip: what was there is untouched
    assert (
        "  root-jitr-prod-us-east-1:\n    ca: root\n    certificates: pki/adopted/root-jitr-prod-us-east-1\n" in after
    )
    assert (fleet.manifests.root / "pki" / "adopted" / "root-jitr-prod-us-east-1" / f"{pending}.pem").exists()
    script(fleet, "fleet.sh", "validate", "-m", str(fleet.manifests.root))
    fleet.project.up()
    assert status_and_policies(fleet, pending) == ("ACTIVE", [])
    assert drift_kinds(fleet, ok=(0,)) == {}
    fleet.project.preview("--refresh", "--expect-no-changes")


AUTO_ACTIVATION = """\
        auto_registration: ENABLE
        auto_activation:
          policies: [telemetry]
"""


def test_auto_activation_activates_only_what_the_decision_allows(devices: Devices, fleet: Fleet) -> None:
    stolen = issue(fleet.root, "stolen-device")
    (fleet.manifests.root / "pki" / "root.crl").write_bytes(make_crl(fleet.root, [stolen]))
    fleet.edit("    mode: DEFAULT\n", "    mode: DEFAULT\n    revocation_list: pki/root.crl\n")
    fleet.edit("        auto_registration: ENABLE\n", AUTO_ACTIVATION)
    fleet.project.up()
    good = register_pending(fleet, issue(fleet.root, "good-device"))
    listed = register_pending(fleet, stolen)

    preview = fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    assert f"DeviceCertificates::certs.prod.us-east-1.{good[0]}]" in preview.output
    if ENGINE.names_drifted_keys:  # taken in by auto_activation: declared ACTIVE in a group of its own
        assert "+ auto:root: {" in preview.output and f'{good}: "ACTIVE"' in preview.output
    reasons = {d["subject"]: d["manifests"] for d in drift_json(fleet)["drift"]}
    assert reasons[f"certificate {good[:16]}…"].endswith("`pulumi up` activates it")
    assert "is on the CA's revocation list" in reasons[f"certificate {listed[:16]}…"]
    fleet.project.up("--refresh")

    assert status_and_policies(fleet, good) == ("ACTIVE", ["telemetry"])
    assert status_and_policies(fleet, listed) == ("PENDING_ACTIVATION", [])
    assert pki.certificate_id(stolen.cert) == listed
    # The activated one is expected now; the refused one stays reported...
    assert drift_kinds(fleet) == {"pending-activation": 1}
    # ...until adopted: as REVOKED, with the reason the decision gave.
    script(fleet, "fleet.sh", "pending", "--adopt", "-m", str(fleet.manifests.root))
    adopted = (fleet.manifests.root / "devices.yaml").read_text()
    assert (
        f"      - certificate: pki/adopted/root-jitr-prod-us-east-1/{listed}.pem\n        status: REVOKED\n" in adopted
    )
    assert "refused at adoption: serial" in adopted and "is on the CA's revocation list" in adopted
    fleet.project.up()
    assert status_and_policies(fleet, listed) == ("REVOKED", [])
    assert drift_kinds(fleet, ok=(0,)) == {}


def drift_json(fleet: Fleet) -> Any:
    return json.loads(script(fleet, "fleet.sh", "drift", "--json", "-m", str(fleet.manifests.root), ok=(7,)).stdout)


@pytest.mark.oldest
def test_a_revocation_by_hand_is_drift_the_manifests_must_adopt(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.iot("prod").update_certificate(certificateId=devices.fingerprint(1), newStatus="REVOKED")
    [found] = drift_json(fleet)["drift"]
    assert found["kind"] == "certificate-revoked" and found["aws"].startswith("REVOKED since 20")
    assert "never un-revoked: adopt the revocation" in found["manifests"]
    refused = fleet.project.up("--refresh", ok=(ENGINE.failed,))
    assert "Adopt the revocation: set it REVOKED in the manifests" in refused.output
    assert devices.status(1) == "REVOKED"

    before = (fleet.manifests.root / "devices.yaml").read_text()
    script(fleet, "fleet.sh", "drift", "--adopt-revocations", "-m", str(fleet.manifests.root))  # 0: written
    after = (fleet.manifests.root / "devices.yaml").read_text()
    assert after.startswith(before.rstrip("\n"))  # the existing exception and everything else kept
    assert after[len(before.rstrip("\n")) :].startswith(
        "\n      - certificate: devices/device-1.pem\n        status: REVOKED\n        revocation:\n"
        "          reason: revoked in AWS outside fleet; adopted by `fleet drift --adopt-revocations`\n"
        f"          date: {found['aws'][len('REVOKED since ') :]}\n"
    )
    fleet.project.up("--refresh")
    assert devices.status(1) == "REVOKED" and drift_kinds(fleet, ok=(0,)) == {}


def test_an_emergency_revocation_by_hand_is_adopted_and_reviewed_step_by_step(devices: Devices, fleet: Fleet) -> None:
    """docs/production.md, "Emergency revocation": a certificate revoked by hand in one place
    (the break-glass role) is drift; `fleet drift --adopt-revocations` writes it into the
    manifests; the pull request's refreshed preview passes, and its review revokes it only
    where AWS has not yet; the apply does that, and drift is clean."""
    fleet.project.up()
    fleet.iot("prod").update_certificate(certificateId=devices.fingerprint(1), newStatus="REVOKED")
    assert drift_kinds(fleet) == {"certificate-revoked": 1}
    script(fleet, "fleet.sh", "drift", "--adopt-revocations", "-m", str(fleet.manifests.root))
    script(fleet, "fleet.sh", "validate", "-m", str(fleet.manifests.root))

    review = review_of(fleet, "--refresh")  # as the pull-request workflow runs it
    # registered, adopted, activated, deactivated, revoked, deleted, attached, detached
    assert table(review) == ["| prod | eu-west-1 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 |"], review
    assert "**Irreversible: 1 revocation(s).**" in review
    assert f"revoke `{devices.fingerprint(1)[:16]}…` devices/device-1.pem (group `line-1`) in prod/eu-west-1" in review

    fleet.project.up()  # as the apply workflow runs it
    assert devices.status(1) == "REVOKED" and devices.status(1, region="eu-west-1") == "REVOKED"
    assert drift_kinds(fleet, ok=(0,)) == {}
    fleet.project.preview("--refresh", "--expect-no-changes")


REVIEW_FIXTURES = REPO / "tests" / "fixtures" / "review"
READER = {"FLEET_READER_ROLE": "fleet-reader"}
LINE_2 = """
  line-2:
    ca: partner
    certificates: line-2
    placements: [{account: prod, regions: [us-east-1]}]
    policies: [telemetry]
"""


@pytest.mark.oldest
def test_the_review_of_a_real_plan_calls_out_revocations_and_blast_radius(devices: Devices, fleet: Fleet) -> None:
    """Also writes the golden-file test's fixtures when FLEET_WRITE_REVIEW_FIXTURES=1."""
    fleet.project.up()
    # One more ACTIVE certificate under root in prod/us-east-1 that no manifest lists: it counts too.
    fleet.iot("prod").register_certificate(
        certificatePem=issue(fleet.root, "by-hand").cert_pem, caCertificatePem=fleet.root.cert_pem, setAsActive=True
    )
    fleet.edit(
        "    exceptions:\n",
        "    exceptions:\n      - certificate: devices/device-1.pem\n"
        "        status: REVOKED\n        revocation: {reason: returned broken, date: 2026-11-22}\n",
        filename="devices.yaml",
    )
    fleet.edit("      - account: prod\n        status: ACTIVE\n", "      - account: prod\n        status: INACTIVE\n")
    script(fleet, "fleet.sh", "record-revocations", "-m", str(fleet.manifests.root))  # its ledger entry
    for n in range(7):
        issue(fleet.partner, f"sensor-{n}").write(fleet.manifests.root / "line-2" / f"sensor-{n}.pem")
    (fleet.manifests.root / "devices.yaml").write_text((fleet.manifests.root / "devices.yaml").read_text() + LINE_2)

    # As the pull-request workflow runs it: through a reader role in each account, which cannot write.
    writes = fleet.aws.writes()
    plan = script(
        fleet,
        "pulumi.sh",
        "preview",
        "--stack",
        fleet.project.stack,
        "--non-interactive",
        "--refresh",
        "--json",
        env=READER,
    )
    assert fleet.aws.writes() == writes
    (fleet.project.workdir / "plan.json").write_text(plan.stdout)
    script(
        fleet,
        "fleet.sh",
        "review",
        str(fleet.project.workdir / "plan.json"),
        "-o",
        str(fleet.project.workdir / "review.md"),
        "-m",
        str(fleet.manifests.root),
    )
    review = (fleet.project.workdir / "review.md").read_text()

    head = review.split("| account |")[0]  # what comes before the per-region detail
    assert "**Irreversible: 2 revocation(s).**" in head
    assert f"revoke `{devices.fingerprint(1)[:16]}…` devices/device-1.pem (group `line-1`) in prod/us-east-1" in head
    # After the change: device-0 and -3 in both regions, and the one made by hand in us-east-1.
    assert (
        "Deactivating CA `root` in prod/eu-west-1 stops new registrations only: **2 ACTIVE certificates** it "
        "signed keep working" in head
    )
    assert "Deactivating CA `root` in prod/us-east-1 stops new registrations only: **3 ACTIVE certificates**" in head
    assert "| prod | us-east-1 | 7 | 0 | 0 | 0 | 1 | 0 | 7 | 0 |" in review  # 7 sensors registered and attached
    assert "| prod | eu-west-1 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 |" in review
    assert "- CA `root`: ACTIVE → INACTIVE (deactivated)" in review
    assert "  <details><summary>7 items</summary>" in review  # the long list is folded

    # The same change applied with the reader role is refused before anything is written.
    refused = script(
        fleet,
        "pulumi.sh",
        "up",
        "--stack",
        fleet.project.stack,
        "--non-interactive",
        "--yes",
        "--skip-preview",
        ok=(ENGINE.failed,),
        env=READER,
    )
    assert "fleet runs read-only as arn:aws:iam::111111111111:role/fleet-reader" in refused.stdout + refused.stderr
    assert fleet.aws.writes() == writes

    if os.environ.get("FLEET_WRITE_REVIEW_FIXTURES") == "1":
        REVIEW_FIXTURES.mkdir(parents=True, exist_ok=True)
        labels = {fp: f"devices/device-{n}.pem" for n, fp in enumerate(map(devices.fingerprint, range(4)))}
        (REVIEW_FIXTURES / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n")
        (REVIEW_FIXTURES / "plan.json").write_text(trimmed(plan.stdout))
        (REVIEW_FIXTURES / "review.md").write_text(render((REVIEW_FIXTURES / "plan.json").read_text(), labels=labels))


def trimmed(plan: str) -> str:
    """The plan without what the review never reads (PEMs, paths of this machine), to keep the fixture small."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: clean(v)
                for k, v in value.items()
                if k not in ("config", "sourcePosition", "duration", "__provider", "stackTrace", "created", "modified")
            }
        return [clean(v) for v in value] if isinstance(value, list) else value

    document = clean(json.loads(plan))
    document["steps"] = [step for step in document["steps"] if step["op"] not in ("same", "refresh")]
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


@pytest.mark.oldest
def test_a_refused_plan_is_reviewed_as_refused(devices: Devices, fleet: Fleet) -> None:
    fleet.project.up()
    fleet.edit(
        "        status: REVOKED\n        revocation: {reason: key leaked, date: 2026-11-01}\n",
        "        status: ACTIVE\n",
        filename="devices.yaml",
    )
    plan = script(
        fleet,
        "pulumi.sh",
        "preview",
        "--stack",
        fleet.project.stack,
        "--non-interactive",
        "--json",
        ok=(ENGINE.failed,),
    )
    (fleet.project.workdir / "plan.json").write_text(plan.stdout)
    review = script(fleet, "fleet.sh", "review", str(fleet.project.workdir / "plan.json")).stdout
    assert "**The preview failed; nothing will be applied until this is fixed:**" in review
    assert f"certificate {devices.fingerprint(2)} (devices/device-2.pem) is declared ACTIVE" in review


def test_every_word_of_a_change_and_its_review_is_true(devices: Devices, fleet: Fleet) -> None:
    """One change of every kind a pull request makes to device certificates (a revocation, a
    removed device, a new one, `things:` switched on), reviewed, applied and checked against AWS:
    the review counts what the apply then does and nothing else (no revocation of a certificate
    already revoked, attachments of the new registration, the things), and the runs that make
    the change call none of it drift and say each warning once."""
    fleet.project.up()
    fleet.edit(
        "    exceptions:\n",
        "    things: common-name\n    exceptions:\n"
        "      - certificate: devices/device-1.pem\n        status: REVOKED\n"
        "        revocation: {reason: returned broken, date: 2026-11-22}\n",
        filename="devices.yaml",
    )
    script(fleet, "fleet.sh", "record-revocations", "-m", str(fleet.manifests.root))
    (fleet.manifests.root / "devices" / "device-3.pem").unlink()
    issue(fleet.root, "device-4").write(fleet.manifests.root / "devices" / "device-4.pem")
    new = pki.certificate_id(pki.load_certificate((fleet.manifests.root / "devices" / "device-4.pem").read_bytes()))

    plan = script(
        fleet, "pulumi.sh", "preview", "--stack", fleet.project.stack, "--non-interactive", "--refresh", "--json"
    )
    (fleet.project.workdir / "plan.json").write_text(plan.stdout)
    review = script(
        fleet, "fleet.sh", "review", str(fleet.project.workdir / "plan.json"), "-m", str(fleet.manifests.root)
    ).stdout
    head = review.split("| account |")[0]
    assert "**Irreversible: 2 revocation(s).**" in head  # device-1 in each region; device-2 was revoked already
    assert devices.fingerprint(2)[:16] not in review
    for region in ("us-east-1", "eu-west-1"):
        # registered, adopted, activated, deactivated, revoked, deleted, attached, detached
        assert f"| prod | {region} | 1 | 0 | 0 | 0 | 1 | 1 | 1 | 0 |" in review, review
        section = review.split(f"### prod / {region}\n\n")[1].split("\n\n")[0]
        assert "- group `line-1`: 1 certificate(s) registered\n" in section
        assert "- group `line-1`: 1 certificate(s) revoked\n" in section
        assert "- group `line-1`: 1 certificate(s) deleted\n" in section
        assert "- group `line-1`: 2 certificate(s) attached to the thing named by their common name\n" in section
        assert "- group `line-1`: policy `telemetry` attached to 1 certificate(s)" in section
        assert "detached" not in section and "by hand" not in section

    diagnostics = [d["message"] for d in json.loads(plan.stdout).get("diagnostics", [])]
    assert not any(re.search(r"\bdrift", message, re.I) for message in diagnostics), diagnostics
    for run in (fleet.project.preview("--refresh"), fleet.project.up()):
        output = run.stdout + run.stderr
        assert not re.search(r"\bdrift", output, re.I), output
        warnings = [line.strip() for line in output.splitlines() if line.strip().startswith("warning:")]
        assert len(warnings) == len(set(warnings)), warnings

    # What the review said is what AWS now holds.
    for region in ("us-east-1", "eu-west-1"):
        assert devices.status(1, region=region) == "REVOKED" and devices.status(2, region=region) == "REVOKED"
        assert devices.status(3, region=region) is None and devices.status(0, region=region) == "ACTIVE"
        iot = fleet.iot("prod", region)
        assert iot.describe_certificate(certificateId=new)["certificateDescription"]["status"] == "ACTIVE"
        arn = f"arn:aws:iot:{region}:111111111111:cert/{new}"
        assert [p["policyName"] for p in iot.list_attached_policies(target=arn)["policies"]] == ["telemetry"]
        for thing, fingerprint in (("device-0", devices.fingerprint(0)), ("device-4", new)):
            assert iot.list_thing_principals(thingName=thing)["principals"] == [
                f"arn:aws:iot:{region}:111111111111:cert/{fingerprint}"
            ]
    fleet.project.preview("--refresh", "--expect-no-changes")


def review_of(fleet: Fleet, *preview: str, aws: bool = True) -> str:
    plan = script(
        fleet, "pulumi.sh", "preview", "--stack", fleet.project.stack, "--non-interactive", "--json", *preview
    )
    (fleet.project.workdir / "plan.json").write_text(plan.stdout)
    return script(
        fleet,
        "fleet.sh",
        "review",
        str(fleet.project.workdir / "plan.json"),
        "-m",
        str(fleet.manifests.root),
        *(() if aws else ("--no-aws",)),
    ).stdout


def table(review: str) -> list[str]:
    return [line for line in review.splitlines() if line.startswith("| prod |")]


def test_the_review_tells_adopted_from_registered_and_revokes_only_what_aws_has_not_revoked(
    devices: Devices, fleet: Fleet
) -> None:
    """Before the pull request, by hand in prod/us-east-1: a new device registered without its
    CA, another registered REVOKED, device-1 revoked in an emergency. The pull request declares
    all three (the two revoked ones REVOKED). The review reads AWS as the apply will: there it
    adopts the first two and revokes nothing; in eu-west-1 it registers both and revokes
    device-1. The apply then makes exactly the registrations and status changes the review
    counts, whether the plan was refreshed (the workflow's) or not (a preview by hand)."""
    fleet.project.up()
    adopted, record = issue(fleet.root, "device-4"), issue(fleet.root, "device-5")
    adopted.write(fleet.manifests.root / "devices" / "device-4.pem")
    record.write(fleet.manifests.root / "devices" / "device-5.pem")
    iot = fleet.iot("prod")
    iot.register_certificate_without_ca(certificatePem=adopted.cert_pem, status="ACTIVE")
    iot.register_certificate(certificatePem=record.cert_pem, caCertificatePem=fleet.root.cert_pem, status="REVOKED")
    iot.update_certificate(certificateId=devices.fingerprint(1), newStatus="REVOKED")
    fleet.edit(
        "    exceptions:\n",
        "    exceptions:\n"
        "      - certificate: devices/device-1.pem\n        status: REVOKED\n"
        "        revocation: {reason: revoked in an emergency, date: 2026-11-22}\n"
        "      - certificate: devices/device-5.pem\n        status: REVOKED\n"
        "        revocation: {reason: returned broken, date: 2026-11-20}\n",
        filename="devices.yaml",
    )
    script(fleet, "fleet.sh", "record-revocations", "-m", str(fleet.manifests.root))

    # registered, adopted, activated, deactivated, revoked, deleted, attached, detached
    truth = [
        "| prod | eu-west-1 | 2 | 0 | 0 | 0 | 1 | 0 | 1 | 0 |",
        "| prod | us-east-1 | 0 | 2 | 0 | 0 | 0 | 0 | 1 | 0 |",
    ]
    # Pulumi.yaml refreshes every run (options.refresh: always); a plan made by hand may opt out.
    for preview in (("--refresh",), ("--refresh=false",)):
        review = review_of(fleet, *preview)
        assert table(review) == truth, review
        head = review.split("| account |")[0]
        assert "**Irreversible: 1 revocation(s).**" in head
        assert (
            f"revoke `{devices.fingerprint(1)[:16]}…` devices/device-1.pem (group `line-1`) in prod/eu-west-1" in head
        )
        us_east = review.split("### prod / us-east-1\n\n")[1].split("\n\n")[0]
        assert "- group `line-1`: 2 certificate(s) adopted (AWS has them already: not registered again)\n" in us_east
        assert "registered" not in us_east.replace("not registered again", "") and "revoked" not in us_east
        assert "AWS was not read" not in review
    # From the plan alone (not refreshed), the review cannot know, and says so.
    blind = review_of(fleet, "--refresh=false", aws=False)
    assert "| prod | us-east-1 | 2 | 0 | 0 | 0 | 1 | 0 | 1 | 0 |" in table(blind) and "AWS was not read" in blind

    before = fleet.aws.calls()
    fleet.project.up()
    made = {name: count - before.get(name, 0) for name, count in fleet.aws.calls().items()}
    assert made.get("iot:RegisterCertificate", 0) + made.get("iot:RegisterCertificateWithoutCA", 0) == 2
    assert made.get("iot:UpdateCertificate", 0) == 1  # device-1 in eu-west-1, nothing else
    assert made.get("iot:AttachPolicy", 0) == 2
    for region in ("us-east-1", "eu-west-1"):
        assert devices.status(1, region=region) == "REVOKED"
        statuses = {
            c["certificateId"]: c["status"] for c in fleet.iot("prod", region).list_certificates()["certificates"]
        }
        assert statuses[pki.certificate_id(adopted.cert)] == "ACTIVE"
        assert statuses[pki.certificate_id(record.cert)] == "REVOKED"
    fleet.project.preview("--refresh", "--expect-no-changes")
