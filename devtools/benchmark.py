"""Benchmark: a synthetic fleet of N device certificates across 2 accounts x 2
regions, through the real Pulumi engine, against the local endpoint.

    python -m devtools.benchmark --certificates 100000 [--rate 1000] [--seed]

With --seed the certificates are put into the endpoint directly (as if
registered long ago, with their policy attached) and the first `pulumi up`
adopts them; without it, that up registers each one. Then it measures a
no-change `pulumi preview --refresh`, `fleet drift`, a 1% change (every 100th
certificate revoked: an `up` whose AWS calls must follow the change, not N),
the state's size, and a per-certificate reader (one DescribeCertificate per
certificate, as Terraform's and Pulumi AWS's certificate resources refresh)
against the same endpoint. Writes docs/benchmarks/N.json.

    python -m devtools.benchmark --certificates 100000 --audit

only times `fleet audit --json` on the same generated manifests (no endpoint,
no Pulumi: the audit reads the manifests alone). Writes docs/benchmarks/audit-N.json.

With --import, `fleet import` of a seeded estate instead (devtools.import_benchmark).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from devtools.endpoint import LOCAL_CREDENTIALS, LocalAws
from devtools.pki import Issued, issue, make_ca
from devtools.pulumi_cli import REPO, scratch_project
from fleet.crypto import pki

ACCOUNTS = {"prod": "111111111111", "staging": "222222222222"}
REGIONS = ("us-east-1", "eu-west-1")
DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
REVOKED_EVERY = 100  # the 1% change


def places() -> list[tuple[str, str, str]]:
    return [(account, number, region) for account, number in ACCOUNTS.items() for region in REGIONS]


def write_fleet(root: Path, certificates: int) -> Issued:
    """The manifests: one SNI_ONLY CA placed everywhere, a group per account and region."""
    ca = make_ca("Benchmark CA")
    ca.write(root / "pki" / "ca.pem")
    groups = []
    for index, (account, _, region) in enumerate(places()):
        folder = root / "devices" / f"{account}-{region}"
        for n in range(index, certificates, len(places())):
            issue(ca, f"device-{n:07d}").write(folder / f"device-{n:07d}.pem")
        groups.append(
            f"  {account}-{region}:\n    ca: bench\n    certificates: devices/{account}-{region}\n"
            f"    placements: [{{account: {account}, regions: [{region}]}}]\n    policies: [telemetry]\n"
        )
    accounts = "".join(
        f'  {name}:\n    id: "{number}"\n    deployer_role_arn: arn:aws:iam::{number}:role/fleet-deployer\n'
        f"    regions: [{', '.join(REGIONS)}]\n"
        for name, number in ACCOUNTS.items()
    )
    (root / "fleet.yaml").write_text(
        f"accounts:\n{accounts}\ncas:\n  bench:\n    certificate: pki/ca.pem\n    mode: SNI_ONLY\n    placements:\n"
        + "".join(f"      - account: {a}\n" for a in ACCOUNTS)
        + "\npolicies:\n  telemetry:\n    document: telemetry.json\n\ndevice_certificates:\n"
        + "".join(groups)
    )
    (root / "telemetry.json").write_text(json.dumps(DOCUMENT))
    return ca


def seed(endpoint: LocalAws, manifests: Path, ca: Issued) -> None:
    """Every certificate into the endpoint directly, ACTIVE, with the policy attached."""
    for account, number, region in places():
        folder = manifests / "devices" / f"{account}-{region}"
        body = json.dumps(
            {
                "account_id": number,
                "region": region,
                "ca_pem": ca.cert_pem,
                "certificates": [p.read_text() for p in sorted(folder.glob("*.pem"))],
                "policy": {"name": "telemetry", "document": json.dumps(DOCUMENT)},
            }
        ).encode()
        request = urllib.request.Request(f"{endpoint.url}/_localaws/seed", data=body, method="POST")
        urllib.request.urlopen(request, timeout=3600).close()


def revoke_one_percent(manifests: Path, environ: dict[str, str]) -> int:
    """Every 100th certificate moves to a REVOKED group of its account and region; the ledger records them."""
    moved = 0
    text = (manifests / "fleet.yaml").read_text()
    for account, _, region in places():
        folder = manifests / "devices" / f"{account}-{region}"
        revoked = manifests / "devices" / f"{account}-{region}-revoked"
        revoked.mkdir()
        for path in sorted(folder.glob("*.pem"))[::REVOKED_EVERY]:
            path.rename(revoked / path.name)
            moved += 1
        text += (
            f"  {account}-{region}-revoked:\n    ca: bench\n    certificates: devices/{account}-{region}-revoked\n"
            f"    placements: [{{account: {account}, regions: [{region}]}}]\n    status: REVOKED\n"
            "    revocation: {reason: benchmark, date: 2026-11-01}\n"
        )
    (manifests / "fleet.yaml").write_text(text)
    subprocess.run(
        [sys.executable, "-m", "fleet", "record-revocations", "-m", str(manifests)],
        env=environ,
        check=True,
        capture_output=True,
    )
    return moved


def measure(label: str, endpoint: LocalAws, run: Callable[[], object]) -> dict[str, Any]:
    before = endpoint.calls()
    start = time.monotonic()
    run()
    seconds = time.monotonic() - start
    after = endpoint.calls()
    calls = {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"{label}: {seconds:.1f} s; peak RSS of the largest process so far {peak} MiB", flush=True)
    print(f"  calls: {json.dumps(calls)}", flush=True)
    return {"seconds": round(seconds, 1), "calls": calls, "peak_mib": peak}


def per_certificate_reader(endpoint: LocalAws, manifests: Path) -> float:
    """One DescribeCertificate per certificate, a thread per account and region."""

    def read_place(place: tuple[str, str, str]) -> None:
        account, number, region = place
        sts = boto3.client(
            "sts",
            endpoint_url=endpoint.url,
            region_name=region,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        role = f"arn:aws:iam::{number}:role/reader"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="benchmark")["Credentials"]
        iot = boto3.client(
            "iot",
            endpoint_url=endpoint.url,
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        for folder in (manifests / "devices").glob(f"{account}-{region}*"):
            for path in folder.glob("*.pem"):
                iot.describe_certificate(certificateId=pki.certificate_id(pki.load_certificate(path.read_bytes())))

    start = time.monotonic()
    with ThreadPoolExecutor(len(places())) as pool:
        list(pool.map(read_place, places()))
    return time.monotonic() - start


def audit_only(n: int, output: Path) -> None:
    """`fleet audit --json` on N generated certificates, as the pull-request workflow runs it (one process)."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        start = time.monotonic()
        write_fleet(root / "manifests", n)
        print(f"{n} certificates generated in {time.monotonic() - start:.1f} s", flush=True)
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "fleet", "audit", "--json", "-m", str(root / "manifests")],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - start
        if done.returncode not in (0, 1):
            raise SystemExit(f"fleet audit failed: {done.stderr}")
        findings = json.loads(done.stdout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak, cpu = usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime
    print(
        f"fleet audit: {seconds:.1f} s ({cpu:.1f} s of CPU), {len(findings)} findings; peak RSS {peak} MiB", flush=True
    )
    figures = {
        "certificates": n,
        "audit_seconds": round(seconds, 1),
        "audit_cpu_seconds": round(cpu, 1),
        "findings": len(findings),
        "findings_by_check": dict(sorted(Counter(f["check"] for f in findings).items())),
        "peak_mib": peak,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="calls a second per account, region and API")
    parser.add_argument("--seed", action="store_true", help="seed the endpoint; the first up adopts")
    parser.add_argument("--output", type=Path, default=None, help="default: docs/benchmarks/N.json")
    parser.add_argument("--audit", action="store_true", help="only time `fleet audit` on the generated manifests")
    parser.add_argument(
        "--import",
        dest="importing",
        action="store_true",
        help="instead, seed an estate and time `fleet import` (devtools.import_benchmark): "
        "docs/benchmarks/import-N.json",
    )
    args = parser.parse_args()
    n = args.certificates
    if args.importing:
        from devtools import import_benchmark

        import_benchmark.run(n, args.rate, args.output)
        return
    if args.audit:
        return audit_only(n, args.output or REPO / "docs" / "benchmarks" / f"audit-{n}.json")
    with tempfile.TemporaryDirectory() as scratch, LocalAws() as endpoint:
        root = Path(scratch)
        start = time.monotonic()
        ca = write_fleet(root / "manifests", n)
        print(f"{n} certificates generated in {time.monotonic() - start:.1f} s", flush=True)
        if args.seed:
            start = time.monotonic()
            seed(endpoint, root / "manifests", ca)
            print(f"seeded into the endpoint in {time.monotonic() - start:.1f} s", flush=True)
        project = scratch_project(
            root / "project", root / "state", **endpoint.environment(), FLEET_AWS_RATE=str(args.rate)
        )
        project.init(root / "manifests")
        first = measure("pulumi up (adopting)" if args.seed else "pulumi up", endpoint, project.up)
        preview = measure(
            "pulumi preview --refresh (no change)",
            endpoint,
            lambda: project.preview("--refresh", "--expect-no-changes"),
        )
        drift = measure(
            "fleet drift",
            endpoint,
            lambda: subprocess.run(
                [sys.executable, "-m", "fleet", "drift", "-m", str(root / "manifests")],
                env=project.env(),
                check=True,
                capture_output=True,
            ),
        )
        state_bytes = len(project.state_text().encode())
        revoked = revoke_one_percent(root / "manifests", project.env())
        change = measure(f"pulumi up of a 1% change ({revoked} revocations)", endpoint, project.up)
        reader = per_certificate_reader(endpoint, root / "manifests")
        print(f"per-certificate reader (DescribeCertificate each): {reader:.1f} s", flush=True)
        figures = {
            "certificates": n,
            "rate": args.rate,
            "seeded": args.seed,
            "first_up_seconds": first["seconds"],
            "first_up_calls": first["calls"],
            "drift_preview_seconds": preview["seconds"],
            "drift_preview_calls": preview["calls"],
            "drift_command_seconds": drift["seconds"],
            "up_1pct_seconds": change["seconds"],
            "up_1pct_calls": sum(change["calls"].values()),
            "up_1pct_calls_by_operation": change["calls"],
            "revoked": revoked,
            "peak_mib": max(first["peak_mib"], preview["peak_mib"], drift["peak_mib"], change["peak_mib"]),
            "state_bytes_per_certificate": round(state_bytes / n, 1),
            "per_certificate_reader_seconds": round(reader, 1),
            "per_certificate_reader_seconds_at_aws_rate": round(n / (10 * len(places())), 1),
        }
    output = args.output or REPO / "docs" / "benchmarks" / f"{n}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
