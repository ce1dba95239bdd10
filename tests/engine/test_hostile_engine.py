"""A sample of tests/unit/test_hostile_manifests.py's corpus through the real engine:
`pulumi preview` and `pulumi up` refuse each one with its manifest's file and line,
print no traceback, and the local endpoint serves no write at all, one case per
class (reading limits, paths, keys, policy documents, dates, duplicates)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from devtools.pulumi_cli import ENGINE
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices

pytestmark = pytest.mark.engine


def alias_bomb(fleet: Fleet) -> None:
    lines = ["x-bomb: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [
        f"x-bomb{n}: &l{n} [*l{n - 1}, *l{n - 1}, *l{n - 1}, *l{n - 1}, *l{n - 1}, *l{n - 1}, *l{n - 1}, "
        f"*l{n - 1}, *l{n - 1}, *l{n - 1}]"
        for n in range(1, 9)
    ]
    fleet.manifests.text("bomb.yaml", "\n".join(lines) + "\n")


def nul_byte(fleet: Fleet) -> None:
    path = fleet.manifests.root / "devices.yaml"
    path.write_bytes(path.read_bytes().replace(b"line-1:", b"line-1:\x00", 1))


def deep_nesting(fleet: Fleet) -> None:
    fleet.manifests.text("deep.yaml", "x-deep: " + "[" * 500 + "]" * 500 + "\n")


def unreadable_key(fleet: Fleet) -> None:
    del fleet.project.extra_env["ROOT_CA_KEY"]  # root is DEFAULT mode: its registration needs the key


def path_outside(fleet: Fleet) -> None:
    fleet.edit("    certificates: devices\n", "    certificates: ../../../../etc\n", filename="devices.yaml")


def policy_is_a_list(fleet: Fleet) -> None:
    fleet.manifests.text("telemetry.json", json.dumps([{"Effect": "Allow"}]))


def revocation_in_the_future(fleet: Fleet) -> None:
    fleet.edit("date: 2026-11-01}", "date: 2999-01-01}", filename="devices.yaml")


def duplicate_certificate(fleet: Fleet) -> None:
    fleet.manifests.text(
        "again.yaml", "device_certificates:\n  line-2:\n    ca: root\n    certificates: devices/device-0.pem\n"
    )


CASES: dict[str, Callable[[Fleet], None]] = {
    "alias bomb": alias_bomb,
    "NUL byte": nul_byte,
    "deep nesting": deep_nesting,
    "unreadable CA key": unreadable_key,
    "path outside the repository": path_outside,
    "policy document not an object": policy_is_a_list,
    "revocation dated in the future": revocation_in_the_future,
    "certificate declared twice": duplicate_certificate,
}
WHERE = re.compile(r"\w+\.yaml:\d+|ROOT_CA_KEY")


@pytest.fixture
def with_devices(fleet: Fleet) -> Fleet:
    Devices(fleet)  # a group of 4 under root, device-2 REVOKED and in the ledger
    return fleet


@pytest.mark.parametrize("case", list(CASES))
def test_refused_by_preview_and_up_with_no_aws_write(with_devices: Fleet, case: str) -> None:
    fleet = with_devices
    CASES[case](fleet)
    if case == "unreadable CA key":  # a pull request's preview has no keys: it warns; the apply refuses
        warned = fleet.project.preview()
        assert "the apply will need a CA private key" in warned.output, warned.output
    for run in (fleet.project.up,) if case == "unreadable CA key" else (fleet.project.preview, fleet.project.up):
        result = run(ok=(ENGINE.failed,))
        assert WHERE.search(result.output), result.output  # the manifest and line (or the key) named
        assert "Traceback" not in result.output and "Exception calling application" not in result.output, result.output
    assert fleet.aws.writes() == {}, fleet.aws.writes()  # counted by the endpoint: nothing was written
