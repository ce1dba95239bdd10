"""Reading a file a manifest points at: a regular file of bounded size.

A FIFO or a device under a name like `device.pem` would block a read
forever, and a multi-gigabyte file would exhaust memory; both are refused
before a byte is read, with a reason the caller puts beside the file's name.
"""

from __future__ import annotations

import stat
from pathlib import Path


class UnreadableFile(ValueError):
    """Not a regular file, or larger than a file of its kind holds."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of ``path``; UnreadableFile when it is not a regular file or holds more
    than ``limit`` bytes; OSError when the system cannot read it."""
    status = path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFile("not a regular file")
    if status.st_size > limit:
        raise UnreadableFile(f"{status.st_size:,} bytes, more than a file of this kind holds ({limit:,})")
    with path.open("rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise UnreadableFile(f"more than {limit:,} bytes, more than a file of this kind holds")
    return data
