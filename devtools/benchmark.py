"""Benchmark: a synthetic fleet of N device certificates across 2 accounts x 2
regions, through the real Pulumi engine, against the local endpoint.

    python -m devtools.benchmark --certificates 1000 [--rate 10]

Prints, for `pulumi up` and a no-change `pulumi preview --refresh`: wall time,
AWS calls per operation (counted by the endpoint), the peak memory of the
largest process (the Pulumi CLI or the provider), and the state file's size.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from devtools.endpoint import LocalAws
from devtools.pki import issue, make_ca
from devtools.pulumi_cli import scratch_project

ACCOUNTS = {"prod": "111111111111", "staging": "222222222222"}
REGIONS = ("us-east-1", "eu-west-1")


def write_fleet(root: Path, certificates: int) -> None:
    ca = make_ca("Benchmark CA")
    ca.write(root / "pki" / "ca.pem")
    placements = [(a, r) for a in ACCOUNTS for r in REGIONS]
    groups = []
    for index, (account, region) in enumerate(placements):
        folder = root / "devices" / f"{account}-{region}"
        for n in range(index, certificates, len(placements)):
            issue(ca, f"device-{n:07d}").write(folder / f"device-{n:07d}.pem")
        groups.append(f"  {account}-{region}:\n    ca: bench\n    certificates: devices/{account}-{region}\n"
                      f"    placements: [{{account: {account}, regions: [{region}]}}]\n    policies: [telemetry]\n")
    accounts = "".join(
        f"  {name}:\n    id: \"{number}\"\n    deployer_role_arn: arn:aws:iam::{number}:role/fleet-deployer\n"
        f"    regions: [{', '.join(REGIONS)}]\n" for name, number in ACCOUNTS.items())
    (root / "fleet.yaml").write_text(
        f"accounts:\n{accounts}\ncas:\n  bench:\n    certificate: pki/ca.pem\n    mode: SNI_ONLY\n    placements:\n"
        + "".join(f"      - account: {a}\n" for a in ACCOUNTS)
        + "\npolicies:\n  telemetry:\n    document: telemetry.json\n\ndevice_certificates:\n" + "".join(groups))
    (root / "telemetry.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))


def measure(label: str, endpoint: LocalAws, run: object) -> dict[str, object]:
    before = endpoint.calls()
    start = time.monotonic()
    run()  # type: ignore[operator]
    seconds = time.monotonic() - start
    after = endpoint.calls()
    calls = {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(f"{label}: {seconds:.1f} s; peak RSS of the largest process so far {peak} MiB")
    print(f"  calls: {json.dumps(calls)}")
    return {"seconds": round(seconds, 1), "calls": calls, "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="calls a second per account, region and API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, LocalAws() as endpoint:
        root = Path(scratch)
        start = time.monotonic()
        write_fleet(root / "manifests", args.certificates)
        print(f"{args.certificates} certificates generated in {time.monotonic() - start:.1f} s")
        project = scratch_project(root / "project", root / "state", **endpoint.environment(),
                                  FLEET_AWS_RATE=str(args.rate))
        project.init(root / "manifests")
        up = measure("pulumi up", endpoint, project.up)
        drift = measure("pulumi preview --refresh (no change)", endpoint,
                        lambda: project.preview("--refresh", "--expect-no-changes"))
        size = len(project.state_text().encode())
        print(f"state file: {size / 1024:.0f} KiB")
        print(json.dumps({"certificates": args.certificates, "rate": args.rate, "up": up, "drift_check": drift,
                          "state_kib": round(size / 1024)}))


if __name__ == "__main__":
    main()
