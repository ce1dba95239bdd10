"""Which region names AWS IoT exists in, from botocore's endpoint data."""

from __future__ import annotations

import functools

import boto3


@functools.cache
def iot_regions() -> frozenset[str]:
    session = boto3.session.Session()
    names: set[str] = set()
    for partition in session.get_available_partitions():
        names.update(session.get_available_regions("iot", partition_name=partition))
    return frozenset(names)
