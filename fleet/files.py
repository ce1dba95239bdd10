"""Reading a file a manifest points at (a regular file of bounded size), and
writing one whole or not at all.

A FIFO or a device under a name like `device.pem` would block a read
forever, and a multi-gigabyte file would exhaust memory; both are refused
before a byte is read, with a reason the caller puts beside the file's name.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path


class UnreadableFile(ValueError):
    """Not a regular file, or larger than a file of its kind holds."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of ``path``; UnreadableFile when it is not a regular file or holds more
    than ``limit`` bytes; OSError when the system cannot read it."""
    status = os.stat(path)  # os's calls, not Path's: a tenth of loading 10^5 certificates went to pathlib
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFile("not a regular file")
    if status.st_size > limit:
        raise UnreadableFile(f"{status.st_size:,} bytes, more than a file of this kind holds ({limit:,})")
    with open(path, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise UnreadableFile(f"more than {limit:,} bytes, more than a file of this kind holds")
    return data


def write_atomic(path: Path, text: str, durable: bool = True) -> None:
    """Write ``path`` whole or not at all: a process killed mid-write leaves the
    old file (or none), never half a file (a temporary file beside it, renamed).
    ``durable``: on disk before the rename, so a power cut cannot leave it empty
    (not worth a flush each for 10^5 files a re-run can fetch again)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
