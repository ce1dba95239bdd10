"""The manifests of the run in progress, as a provider sees them at delete time.

A delete gets only what the state recorded. Before removing something from
AWS, a provider asks the current manifests whether another resource now
declares the same AWS object (a renamed CA or group, a certificate moved to
another group): the engine may run the old resource's delete after the new
one adopted the object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleet.aws.regions import iot_regions
from fleet.manifest import Fleet, ManifestError, load_fleet


class CurrentManifestsUnreadable(Exception):
    """Removing things from AWS is unsafe until the current manifests load."""


def current_fleet(props: dict[str, Any], doing: str) -> Fleet:
    # Relative paths are relative to the project: where Pulumi runs providers.
    folder = Path(props.get("manifests") or props.get("manifests_root") or "manifests")
    try:
        return load_fleet(folder, known_regions=iot_regions())
    except ManifestError as error:
        raise CurrentManifestsUnreadable(
            f"not {doing}: the current manifests at {folder.resolve()} must show what other resources now "
            f"hold, and they do not load:\n{error}"
        ) from None
