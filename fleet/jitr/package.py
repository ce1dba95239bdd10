"""The just-in-time function's package: a zip of the handler's modules, taken
from the installed fleet and asn1crypto (pure Python: AWS's runtime supplies
boto3, and nothing compiled travels), and the configuration as
``fleet-jitr.json``.

Reproducible: entries in a fixed order, each with a fixed timestamp and mode,
stored uncompressed (a zlib of another version compresses differently), so
the code entries are the same bytes for the same fleet version on any
machine, and the whole zip is the same bytes for the same configuration; the
function's CodeSha256 changes only when one of them does. The program
leaves the package under a content-addressed name in the machine's
temporary folder, where the provider (another process of the same run)
finds it by that digest: the state holds only the digest.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import tempfile
import zipfile
from pathlib import Path

import fleet
from fleet.jitr.handler import CONFIG_FILE

HANDLER = "fleet.jitr.handler.handler"
# A runtime AWS supports (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html: python3.13 until 2029-06-30).
RUNTIME = "python3.13"
# What the handler imports, and what they import (tests/unit/test_jitr_package.py runs it from the zip alone).
MODULES = (
    "__init__.py",
    "settings.py",
    "aws/__init__.py",
    "aws/errors.py",
    "aws/pacing.py",
    "aws/registrations.py",
    "aws/retry.py",
    "aws/session.py",
    "aws/status.py",
    "crypto/__init__.py",
    "crypto/validity.py",
    "jitr/__init__.py",
    "jitr/activation.py",
    "jitr/handler.py",
    "jitr/presented.py",
)
LIBRARIES = ("asn1crypto",)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say


def build(configuration_text: str) -> bytes:
    entries = sorted([*_fleet_files(), *_library_files()]) + [(CONFIG_FILE, configuration_text.encode())]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the machine
            archive.writestr(info, data)
    return out.getvalue()


def code_sha256(package: bytes) -> str:
    """As Lambda reports a function's CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def keep(package: bytes) -> str:
    """Leave the package where the provider finds it; its CodeSha256."""
    digest = code_sha256(package)
    path = _path(digest)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(package)
        partial.replace(path)  # atomic: a reader sees the whole package or none
    return digest


def kept(digest: str) -> bytes | None:
    """The package the program left with this CodeSha256, or None."""
    try:
        package = _path(digest).read_bytes()
    except OSError:
        return None
    return package if code_sha256(package) == digest else None


def _path(digest: str) -> Path:
    name = base64.b64decode(digest).hex()
    return Path(tempfile.gettempdir()) / "fleet-jitr-packages" / f"{name}.zip"


def _fleet_files() -> list[tuple[str, bytes]]:
    root = Path(fleet.__file__).parent
    return [(f"fleet/{name}", (root / name).read_bytes()) for name in MODULES]


def _library_files() -> list[tuple[str, bytes]]:
    files = []
    for library in LIBRARIES:
        spec = importlib.util.find_spec(library)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"{library} is not installed; the just-in-time function's package needs it")
        root = Path(next(iter(spec.submodule_search_locations)))
        files += [
            (f"{library}/{path.relative_to(root).as_posix()}", path.read_bytes()) for path in sorted(root.rglob("*.py"))
        ]
        distribution = importlib.metadata.distribution(library)
        for file in distribution.files or ():
            if file.name.upper().startswith("LICENSE"):  # its license travels with it
                files.append((f"{library}-{distribution.version}.LICENSE", Path(str(file.locate())).read_bytes()))
    return files
