"""The README's first command works and leaves nothing behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devtools.pulumi_cli import REPO

pytestmark = pytest.mark.engine


def test_the_demo_applies_drifts_corrects_and_cleans_up() -> None:
    done = subprocess.run([sys.executable, "-m", "devtools.demo"], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "factory-root.prod.us-east-1 update" in done.stdout  # the drifted CA, named at preview
    assert "AWS now says: status ACTIVE, auto-registration ENABLE" in done.stdout
    assert "(pki/devices/line-1/device-0003.pem) is declared ACTIVE at manifests/devices.yaml:17" in done.stdout
    assert not (REPO / "Pulumi.demo.yaml").exists() and not (REPO / ".cache" / "demo").exists()
