"""The device-certificate provider's own refusal, independent of the program's
guard: a diff from a recorded REVOKED to anything else raises, naming the
certificate, the manifest line and the recorded revocation date."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.providers.device_certificates import DeviceCertificatesProvider
from fleet.revocation import RevocationRefused

FP = "ab" * 32


def props(status: str, **extra: str) -> dict[str, Any]:
    return {"group": "line-1", "account": "prod", "account_id": "111111111111", "region": "us-east-1",
            "policies": [], "folder": "devices", "source": "manifests/devices.yaml:5",
            "certificates": {FP: {"status": status, "file": "d.pem", "source": "manifests/devices.yaml:11", **extra}}}


@pytest.mark.parametrize("new_status", ["ACTIVE", "INACTIVE"])
def test_diff_refuses_to_move_a_recorded_revocation(new_status: str) -> None:
    olds = props("REVOKED", revoked_on="2026-11-01", reason="key leaked")
    with pytest.raises(RevocationRefused) as caught:
        DeviceCertificatesProvider().diff("id", olds, props(new_status))
    assert str(caught.value) == (
        f"certificate {FP} (devices/d.pem) is declared {new_status} at manifests/devices.yaml:11, but it was "
        "revoked on 2026-11-01 in account prod (111111111111), us-east-1; a revoked certificate is never "
        "reactivated. Adopt the revocation: set it REVOKED in the manifests, with its revocation (reason, date).")


def test_diff_sees_a_status_change_and_no_change() -> None:
    provider = DeviceCertificatesProvider()
    assert provider.diff("id", props("ACTIVE"), props("INACTIVE")).changes is True
    assert provider.diff("id", props("ACTIVE"), props("ACTIVE")).changes is False
    assert provider.diff("id", props("ACTIVE"), props("REVOKED", revoked_on="2026-11-01")).changes is True
