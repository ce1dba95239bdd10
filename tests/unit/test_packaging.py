"""`pip install .` (as the workflows install fleet) ships every package fleet imports."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[2]


def test_every_package_of_fleet_and_the_local_endpoint_is_installed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    installed = set(find_packages(where=str(REPO), include=config["include"]))
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for top in ("fleet", "localaws")
        for p in (REPO / top).rglob("__init__.py")
    }
    assert on_disk <= installed, sorted(on_disk - installed)
    assert {"fleet.cli", "fleet.revocation"} <= installed  # the two a hand-kept list once missed
    assert not any(name.startswith("tests") for name in installed)
