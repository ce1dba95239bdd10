"""Benchmark of `fleet import`: an estate of N device certificates across 2
accounts x 2 regions, seeded into the local endpoint directly (as if
registered by hand over years: 90% ACTIVE, 5% INACTIVE, 5% REVOKED, a policy
attached to each, one SNI_ONLY CA), then imported into a new repository.

    python -m devtools.benchmark --import --certificates 100000 [--rate 1000]

Measures the import's seconds, its calls by operation (counted by the
endpoint), the import process's peak memory, the repository's size, and
`fleet validate` on what it wrote; writes docs/benchmarks/import-N.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devtools.benchmark import ACCOUNTS, DOCUMENT, REGIONS, places
from devtools.endpoint import LocalAws
from devtools.pki import Issued, issue, make_ca
from devtools.pulumi_cli import REPO

CHUNK = 5_000  # certificates generated and seeded at a time (memory stays flat)
STATUSES = (("REVOKED", 20), ("INACTIVE", 20))  # every 20th certificate: 5% each; the rest ACTIVE


def status_of(n: int) -> str:
    if n % STATUSES[0][1] == 0:
        return STATUSES[0][0]
    if n % STATUSES[1][1] == 1:
        return STATUSES[1][0]
    return "ACTIVE"


def seed(endpoint: LocalAws, ca: Issued, certificates: int) -> dict[str, int]:
    """Every certificate into the endpoint directly, by account, region and status, a chunk at a time."""
    counts: dict[str, int] = {}
    for index, (_, number, region) in enumerate(places()):
        mine = range(index, certificates, len(places()))
        for start in range(0, len(mine), CHUNK):
            batch: dict[str, list[str]] = {}
            for n in mine[start : start + CHUNK]:
                batch.setdefault(status_of(n // len(places())), []).append(issue(ca, f"device-{n:07d}").cert_pem)
            for status, pems in sorted(batch.items()):
                counts[status] = counts.get(status, 0) + len(pems)
                body = json.dumps(
                    {
                        "account_id": number,
                        "region": region,
                        "ca_pem": ca.cert_pem,
                        "certificates": pems,
                        "status": status,
                        "policy": {"name": "telemetry", "document": json.dumps(DOCUMENT)},
                    }
                ).encode()
                request = urllib.request.Request(f"{endpoint.url}/_localaws/seed", data=body, method="POST")
                urllib.request.urlopen(request, timeout=3600).close()
    return counts


def repository(root: Path) -> Path:
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "accounts.yaml").write_text(
        "accounts:\n"
        + "".join(
            f'  {name}:\n    id: "{number}"\n    deployer_role_arn: arn:aws:iam::{number}:role/fleet-deployer\n'
            f"    regions: [{', '.join(REGIONS)}]\n"
            for name, number in ACCOUNTS.items()
        )
    )
    return manifests


def size(root: Path) -> tuple[int, int]:
    """(bytes, files) under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def lines(stream: Any) -> Iterator[str]:
    for line in stream:
        sys.stdout.write(f"  {line}")
        sys.stdout.flush()
        yield line


def run(certificates: int, rate: float, output: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch, LocalAws() as endpoint:
        root = Path(scratch)
        start = time.monotonic()
        statuses = seed(endpoint, make_ca("Estate CA"), certificates)
        print(
            f"{certificates} certificates generated and seeded in {time.monotonic() - start:.1f} s: {statuses}",
            flush=True,
        )
        manifests = repository(root / "repo")
        environ = {**os.environ, **endpoint.environment(), "FLEET_AWS_RATE": str(rate), "FLEET_PROGRESS_SECONDS": "60"}
        before = endpoint.calls()
        start = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "fleet", "import", "-m", str(manifests)],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        printed = list(lines(process.stdout))
        if process.wait() != 0:
            raise SystemExit("fleet import failed:\n" + "".join(printed[-40:]))
        seconds = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        after = endpoint.calls()
        calls = {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}
        repository_bytes, repository_files = size(root / "repo")
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "fleet", "validate", "-m", str(manifests)], env=environ, check=True)
        validate = time.monotonic() - start
        per_place = certificates / len(places())
        figures = {
            "certificates": certificates,
            "places": len(places()),
            "statuses": statuses,
            "rate": rate,
            "seconds": round(seconds, 1),
            "calls": calls,
            "calls_total": sum(calls.values()),
            "peak_mib": peak,
            "repository_bytes": repository_bytes,
            "repository_files": repository_files,
            "validate_seconds": round(validate, 1),
            # What AWS's default quota makes of it: one DescribeCertificate per certificate, places in parallel.
            "seconds_at_aws_rate": round(per_place / 10, 1),
        }
    path = output or REPO / "docs" / "benchmarks" / f"import-{certificates}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures), flush=True)
    return figures
