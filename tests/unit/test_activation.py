"""The just-in-time activation decision (fleet.jitr.activation): it activates only a
pending certificate the CA signed that is revoked nowhere and not on the CA's
revocation list."""

from __future__ import annotations

import datetime

import pytest

from devtools.pki import Issued, issue, make_ca, make_crl
from fleet.crypto import pki
from fleet.jitr.activation import decide

CA = make_ca("Factory Root")
OTHER_CA = make_ca("Factory Root")  # same subject, another key
DEVICE = issue(CA, "device-1")
LISTED = issue(CA, "device-2")
CRL = make_crl(CA, [LISTED]).decode()


def verdict(
    device: Issued = DEVICE,
    status: str = "PENDING_ACTIVATION",
    crl: str | None = CRL,
    revoked: frozenset[str] = frozenset(),
    ca_status: str = "ACTIVE",
) -> tuple[bool, str]:
    found = decide(device.cert_pem, status, CA.cert_pem, ca_status, crl, revoked)
    return found.activate, found.reason


def test_a_pending_certificate_signed_by_the_ca_is_activated() -> None:
    assert verdict() == (True, "signed by the CA, revoked nowhere, not on its revocation list")
    assert verdict(crl=None)[0] is True


def test_a_certificate_on_the_revocation_list_is_refused() -> None:
    assert verdict(LISTED) == (False, f"serial {LISTED.cert.serial_number:x} is on the CA's revocation list")
    assert verdict(LISTED, crl=None)[0] is True  # the list is what refuses it


def test_a_certificate_revoked_anywhere_is_refused() -> None:
    revoked = frozenset({pki.certificate_id(DEVICE.cert)})
    assert verdict(revoked=revoked) == (False, "it is revoked (by the revocation ledger, in AWS or in the manifests)")


def test_a_certificate_signed_by_another_ca_is_refused() -> None:
    assert verdict(issue(OTHER_CA, "device-3")) == (False, "it is not signed by this CA")


@pytest.mark.parametrize("status", ["ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER"])
def test_only_a_pending_registration_is_activated(status: str) -> None:
    assert verdict(status=status) == (False, f"its status is {status}, not PENDING_ACTIVATION")


def test_an_expired_certificate_is_refused() -> None:
    old = issue(CA, "device-4", days=1, not_before=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    activate, reason = verdict(old)
    assert not activate and reason.startswith("it is expired on 2020-01-02")


def test_nothing_is_activated_under_a_ca_that_is_not_active() -> None:
    assert verdict(ca_status="INACTIVE") == (False, "the CA is INACTIVE")


def test_a_ca_certificate_is_never_activated_as_a_device() -> None:
    assert verdict(issue(CA, "sub-ca", is_ca=True)) == (False, "it is a CA certificate, not a device's")
