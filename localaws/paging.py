"""AWS IoT list paging: pageSize 1..250 and an opaque marker.

https://docs.aws.amazon.com/iot/latest/apireference/API_ListCACertificates.html
(pageSize: "Valid Range: Minimum value of 1. Maximum value of 250.")
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

from moto.iot.exceptions import InvalidRequestException

T = TypeVar("T")

MAX_PAGE_SIZE = 250
DEFAULT_PAGE_SIZE = 25


def page(items: Sequence[T], page_size: object, marker: object) -> tuple[list[T], str | None]:
    """Return one page of ``items`` and the marker of the next page (or None)."""
    size = DEFAULT_PAGE_SIZE if page_size in (None, "") else int(str(page_size))
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidRequestException(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    start = _decode(marker) if marker else 0
    end = start + size
    next_marker = _encode(end) if end < len(items) else None
    return list(items[start:end]), next_marker


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode(marker: object) -> int:
    try:
        text = base64.urlsafe_b64decode(str(marker).encode()).decode()
        kind, _, value = text.partition(":")
        if kind != "offset":
            raise ValueError(kind)
        return int(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequestException("The marker is not valid.") from error
