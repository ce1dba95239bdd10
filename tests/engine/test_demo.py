"""The README's first command works and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devtools.pulumi_cli import REPO

pytestmark = pytest.mark.engine


def test_the_demo_applies_drifts_corrects_and_cleans_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.demo"], cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pulumi-python:dynamic/fleet:CaPlacement: (update)" in done.stdout
    assert '~ status           : "INACTIVE" => "ACTIVE"' in done.stdout  # the key that drifted, AWS's value first
    assert "│ CA factory-root               │ ca-status            │ INACTIVE" in done.stdout
    assert "ACTIVE at manifests/cas.yaml:14" in done.stdout
    assert "1 ca-auto-registration, 1 ca-status, 1 pending-activation\n   └ fleet drift → exit code 7" in done.stdout
    assert "AWS now says: status ACTIVE, auto-registration ENABLE; device-0100 ACTIVE" in done.stdout
    assert "No drift: AWS matches the manifests.\n   └ fleet drift → exit code 0" in done.stdout
    assert "The preview failed; nothing will be applied until this is fixed" in done.stdout
    assert "(pki/devices/line-1/device-0003.pem) is declared ACTIVE at manifests/devices.yaml:17" in done.stdout
    assert not (REPO / "Pulumi.demo.yaml").exists() and not (REPO / ".cache" / "demo").exists()
