"""The demo (Quick start line 1): the example fleet, applied, drifted by hand,
caught and corrected, on a local AWS endpoint this script starts and stops."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import boto3
from cryptography.hazmat.primitives import serialization
from rich.console import Console

from devtools.endpoint import LocalAws
from devtools.pki import Issued, issue
from devtools.pulumi_cli import ENGINE, REPO, PulumiProject, Result
from fleet.crypto import pki

say = Console(highlight=False, soft_wrap=True)
DEMO = REPO / ".cache" / "demo"
MANIFESTS = DEMO / "gitops" / "manifests"  # a copy: the demo edits it, never your files
PROD = "111111111111"


def step(number: int, text: str) -> None:
    say.print(f"\n[bold cyan]{number}. {text}[/]")


def show(result: Result, *, only: tuple[str, ...] = (), hide: tuple[str, ...] = ()) -> None:
    lines = result.output.splitlines()
    if only:
        lines = [line for line in lines if any(word in line for word in only)]
    lines = [line for line in lines if not any(word in line for word in hide)]
    for line in lines:
        if line.strip() and not line.startswith("@"):
            say.print("   [dim]│[/] ", end="")
            say.print(line.rstrip(), markup=False)
    say.print(f"   [dim]└ {result.command} → exit code {result.code}[/]")


def console_user_iot(endpoint: LocalAws, account: str, region: str) -> Any:
    """What a person at the AWS console would use: their own role in the account."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id="console-user",
        aws_secret_access_key="console-user",
    )
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/console-admin", RoleSessionName="someone-at-the-console"
    )["Credentials"]
    return boto3.client(
        "iot",
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.copytree(REPO / "manifests", MANIFESTS)
    shutil.copytree(REPO / "policies", MANIFESTS.parent / "policies")
    key = (REPO / "demo" / "factory-root.key.pem").read_text()
    with LocalAws() as endpoint:
        project = PulumiProject(
            workdir=REPO,
            backend=DEMO / "state",
            stack="demo",
            extra_env={**endpoint.environment(), "FLEET_CA_KEY_FACTORY_ROOT": key},
        )
        try:
            run(endpoint, project)
        finally:
            step(10, "Cleaning up: removing the demo stack and its state, stopping the endpoint.")
            project.run("stack", "rm", "--force", "--yes", ok=(0, ENGINE.failed))
            shutil.rmtree(DEMO, ignore_errors=True)
            (REPO / "Pulumi.demo.yaml").unlink(missing_ok=True)
    say.print("\n[bold green]Demo complete: nothing is left running or written.[/]")
    return 0


def run(endpoint: LocalAws, project: PulumiProject) -> None:
    step(1, f"Started a local AWS endpoint (moto with fleet's IoT fixes) at {endpoint.url}.")
    say.print("   Accounts prod (111111111111) and staging (222222222222) are reached by STS AssumeRole,")
    say.print("   as in real use. The demo CA key is passed in FLEET_CA_KEY_FACTORY_ROOT, never stored.")

    step(2, "Validating the manifests (no AWS call): fleet validate")
    project.init(MANIFESTS)
    done = subprocess.run(
        [sys.executable, "-m", "fleet", "validate", "-m", "manifests"],
        cwd=MANIFESTS.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    say.print(f"   {done.stdout.strip()}", markup=False)

    step(
        3,
        "pulumi up: 2 CAs in 5 placements across 2 accounts and 2 regions, the telemetry policy, and\n"
        "   5 device certificates of line-1. Certificates live in 16 resources per account and region\n"
        "   (by the first hex digit of each fingerprint), however many there are; never one per certificate.",
    )
    applied = project.up()
    show(applied, only=(" created (", "Resources:", "Duration"), hide=("fleet:DeviceCertificates",))
    shards = len({line.split()[2] for line in applied.output.splitlines() if "fleet:DeviceCertificates" in line})
    say.print(f"   [dim]│[/]  + {shards} fleet:DeviceCertificates resources created", markup=True)

    step(4, "pulumi preview --expect-no-changes: AWS matches the manifests.")
    show(project.run("preview", "--expect-no-changes"), only=("unchanged", "Resources"))

    iot = console_user_iot(endpoint, PROD, "us-east-1")
    factory_pem = (REPO / "manifests/pki/factory-root.pem").read_bytes()
    factory_id = pki.certificate_id(pki.load_certificate(factory_pem))
    factory = Issued(
        pki.load_certificate(factory_pem),
        serialization.load_pem_private_key((REPO / "demo" / "factory-root.key.pem").read_bytes(), password=None),
    )  # type: ignore[arg-type]
    new_device = issue(factory, "device-0100")
    step(
        5,
        "A new device connects for the first time: AWS registers its certificate PENDING_ACTIVATION\n"
        "   (just-in-time registration). Then someone deactivates factory-root in prod/us-east-1 by hand,\n"
        f"   at the console (UpdateCACertificate {factory_id[:12]}… → INACTIVE, auto-registration DISABLE).",
    )
    iot.register_certificate(
        certificatePem=new_device.cert_pem, caCertificatePem=factory.cert_pem, status="PENDING_ACTIVATION"
    )
    iot.update_ca_certificate(certificateId=factory_id, newStatus="INACTIVE", newAutoRegistrationStatus="DISABLE")

    step(6, "pulumi preview --refresh --diff --expect-no-changes: the drift is caught, each resource and key named.")
    drift = project.run("preview", "--refresh", "--diff", "--expect-no-changes", ok=(ENGINE.changes,))
    planned = drift.output[drift.output.find("(update)") - 60 :]  # the plan, after what the refresh read
    show(Result(drift.command, drift.code, planned, ""), only=("(update)", "=>", "  - ", "to update", "error:"))
    say.print(
        f"   (pulumi {ENGINE.label} exits {ENGINE.changes} here, so CI fails the job; pulumi before 3.226 exits 255.)"
    )
    say.print("   fleet drift prints the same as a table (the scheduled workflow's report):")
    show(fleet_command(project, "drift", ok=(7,)))

    step(
        7,
        "fleet pending --adopt writes the new device into the manifests (a change to review), and\n"
        "   pulumi up --refresh puts the CA back and activates the adopted certificate.",
    )
    show(fleet_command(project, "pending", "--adopt"), only=("device", "Wrote", "manifests/"))
    show(project.up("--refresh"), only=(" updated", "Resources:", "unchanged"))
    description = iot.describe_ca_certificate(certificateId=factory_id)["certificateDescription"]
    adopted = iot.describe_certificate(certificateId=pki.certificate_id(new_device.cert))["certificateDescription"]
    say.print(
        f"   AWS now says: status {description['status']}, "
        f"auto-registration {description['autoRegistrationStatus']}; device-0100 {adopted['status']}"
    )

    step(8, "pulumi preview --refresh --expect-no-changes and fleet drift: clean again.")
    show(project.run("preview", "--refresh", "--expect-no-changes"), only=("unchanged",))
    show(fleet_command(project, "drift"))

    step(9, "A pull request sets the stolen device-0003 back to ACTIVE: preview refuses, before anything changes.")
    devices = MANIFESTS / "devices.yaml"
    original = devices.read_text()
    devices.write_text(
        original.replace("        status: REVOKED\n", "        status: ACTIVE\n").replace(
            "        revocation:\n          reason: device reported stolen\n          date: 2026-11-20\n", ""
        )
    )
    plan = project.run("preview", "--json", ok=(ENGINE.failed,))
    (DEMO / "plan.json").write_text(plan.stdout)
    say.print("   The pull request's comment (fleet review of `pulumi preview --json`):")
    show(fleet_command(project, "review", str(DEMO / "plan.json")), only=("failed", "certificate "))
    devices.write_text(original)


def fleet_command(project: PulumiProject, *args: str, ok: tuple[int, ...] = (0,)) -> Result:
    """`fleet ...` on the demo's manifests, as scripts/fleet.sh runs it in CI."""
    command = [sys.executable, "-m", "fleet", *args, "-m", str(MANIFESTS)]
    done = subprocess.run(command, cwd=MANIFESTS.parent, env=project.env(), capture_output=True, text=True, check=False)
    result = Result("fleet " + " ".join(args), done.returncode, done.stdout, done.stderr)
    if result.code not in ok:
        raise AssertionError(f"{result.command} exited {result.code}:\n{result.output}")
    return result


if __name__ == "__main__":
    sys.exit(main())
