"""fleet as a user gets it: the wheel `pip wheel --no-deps` makes of this repository, and a fresh
virtualenv that `pip install`s it (tests/unit/test_new_fleet.py, tests/engine/test_try_locally.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
DISTRIBUTION, VERSION = PROJECT["name"], PROJECT["version"]
PIP = ("-m", "pip", "--disable-pip-version-check")


def source(into: Path) -> Path:
    """A copy of what a wheel is built from (building in the checkout would leave build/ there)."""
    shutil.copytree(
        REPO,
        into,
        ignore=shutil.ignore_patterns(".*", "tests", "demo", "docs", "tools", "build", "*.egg-info", "__pycache__"),
    )
    return into


def build(tree: Path, into: Path) -> Path:
    """The wheel of the source tree ``tree``, as a release build makes it."""
    built = subprocess.run(
        [sys.executable, *PIP, "wheel", "--no-deps", "--quiet", "-w", str(into), str(tree)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = into.glob("*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """A new virtualenv with the wheel and its `local` extra installed as `pip install` does (byte-compiling
    every .py it installs); its dependencies at the versions requirements.txt locks. The venv's bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [str(python), *PIP, "install", "--quiet", "-c", str(REPO / "requirements.txt"), f"{wheel}[local]"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv / "bin"
