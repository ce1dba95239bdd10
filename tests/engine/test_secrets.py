"""The CA private key never reaches Pulumi state, plans, logs or output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.pulumi_cli import ENGINE
from tests.engine.conftest import Fleet

pytestmark = pytest.mark.engine


def key_material(pem: str) -> list[str]:
    """The base64 lines of a PEM key: any one of them showing is a leak."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def test_the_ca_private_key_is_nowhere_in_state_or_output(fleet: Fleet, tmp_path: Path) -> None:
    fleet.project.up()
    fleet.project.preview("--refresh", "--diff")
    fleet.edit("status: ACTIVE", "status: INACTIVE")
    fleet.project.up("--refresh")
    fleet.project.run("stack", "export", "--show-secrets")
    fleet.iot("prod", "eu-west-1").update_ca_certificate(certificateId=fleet.ca_id("root"), newStatus="ACTIVE")
    fleet.project.preview("--refresh", "--expect-no-changes", ok=(ENGINE.changes,))
    fleet.project.run("destroy", "--yes", "--skip-preview")

    written = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()
               and "manifests" not in p.parts]  # the state, its backups and history, Pulumi's own files
    printed = [result.output for result in fleet.project.history]
    assert len(printed) >= 7 and any("root.prod.us-east-1" in text for text in printed)
    for line in key_material(fleet.root.key_pem):
        for text in written + printed:
            assert line not in text
    # The reference, not the key, is what the state keeps (pretty-printed by pulumi 3.79, compact since).
    assert any(re.search(r'"env":\s*"ROOT_CA_KEY"', text) for text in written)
