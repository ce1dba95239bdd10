"""`fleet audit`'s certificate checks: each fires on the case its Device Defender page describes, and stays
silent on the nearest case that is fine."""

from __future__ import annotations

import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.pki import issue, make_ca, make_crl
from fleet.audit import run
from fleet.audit.findings import CHECKS, Location, Place, Severity
from fleet.audit.inventory import CaRecord, CertificateFacts, DeviceRecord, Inventory
from fleet.manifest.desired import AuditSpec
from tests.audit_support import audit, checks, roca_key, small_fleet
from tests.conftest import Manifests

NOW = datetime.datetime.now(datetime.UTC)
PROD = Place("prod", "111111111111", "us-east-1")
HERE = Location("manifests/devices.yaml", 5)


def test_the_checks_carry_device_defenders_names_and_severities() -> None:
    assert CHECKS["CA_CERTIFICATE_EXPIRING_CHECK"].severity == Severity.MEDIUM
    assert CHECKS["DEVICE_CERTIFICATE_EXPIRING_CHECK"].severity == Severity.MEDIUM
    assert CHECKS["CA_CERTIFICATE_KEY_QUALITY_CHECK"].severity == Severity.CRITICAL
    assert CHECKS["DEVICE_CERTIFICATE_KEY_QUALITY_CHECK"].severity == Severity.CRITICAL
    assert CHECKS["DEVICE_CERTIFICATE_AGE_CHECK"].severity == Severity.LOW
    assert CHECKS["REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"].severity == Severity.MEDIUM
    assert CHECKS["REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"].severity == Severity.CRITICAL
    assert CHECKS["INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK"].severity == Severity.CRITICAL
    assert all(c.url.startswith("https://docs.aws.amazon.com/") for c in CHECKS.values())


def test_a_sound_fleet_has_no_finding(manifests: Manifests) -> None:
    small_fleet(manifests)
    assert audit(manifests) == []


# --- expiry ------------------------------------------------------------------------------------------------------


def test_a_device_certificate_expiring_within_30_days_is_reported_at_its_line(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, days=20)
    [finding] = audit(manifests)
    assert finding.check == "DEVICE_CERTIFICATE_EXPIRING_CHECK" and finding.severity == Severity.MEDIUM
    assert finding.reason_code == "CERTIFICATE_APPROACHING_EXPIRATION"
    assert finding.resource == "certificate:devices/device-0.pem"
    assert (finding.location.file, finding.location.line) == ("manifests/devices.yaml", 5)  # the group's line
    assert set(finding.places) == {
        Place("prod", "111111111111", "us-east-1"),
        Place("prod", "111111111111", "eu-west-1"),
    }
    assert "in 18 days" in finding.message


def test_a_device_certificate_expiring_in_32_days_is_not(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, days=33)
    assert audit(manifests) == []


def test_the_expiry_threshold_is_the_manifests_when_they_set_one(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, days=80)
    assert audit(manifests) == []
    manifests.text("audit.yaml", "audit:\n  device_certificate_expiring_days: 90\n")
    assert checks(audit(manifests)) == ["DEVICE_CERTIFICATE_EXPIRING_CHECK"]


def test_an_inactive_or_revoked_certificate_about_to_expire_is_not_reported(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, days=10)
    text = (manifests.root / "devices.yaml").read_text()
    manifests.text("devices.yaml", text + "    status: INACTIVE\n")
    assert audit(manifests) == []


def test_an_active_ca_expiring_soon_is_reported_and_an_inactive_one_is_not(manifests: Manifests) -> None:
    small_fleet(manifests, devices=0)
    manifests.ca("root", days=25)
    manifests.text("devices.yaml", "{}\n")
    [finding] = audit(manifests)
    assert finding.check == "CA_CERTIFICATE_EXPIRING_CHECK" and finding.resource == "ca:root"
    assert finding.location.file == "manifests/cas.yaml" and finding.location.line == 6  # its ACTIVE placement
    manifests.text("cas.yaml", (manifests.root / "cas.yaml").read_text() + "        status: INACTIVE\n")
    assert audit(manifests) == []


def test_an_active_ca_expiring_in_32_days_is_not(manifests: Manifests) -> None:
    """Device Defender's threshold for a CA is 30 days (audit-chk-ca-cert-approaching-expiration.html)."""
    small_fleet(manifests, devices=0)
    manifests.ca("root", days=32)
    manifests.text("devices.yaml", "{}\n")
    assert audit(manifests) == []


def test_certificates_expired_in_aws_are_reported_past_expiration() -> None:
    """`fleet validate` refuses an expired certificate in the manifests; in AWS it can be ACTIVE still."""
    ca = make_ca("root CA")
    old = issue(ca, "old", not_before=NOW - datetime.timedelta(days=400), days=365)
    inventory = Inventory(
        certificates=(DeviceRecord("ab" * 32, "ab" * 32, "ACTIVE", (PROD,), HERE, facts=CertificateFacts.of(old.cert)),)
    )
    [finding] = run(inventory, AuditSpec(), NOW)
    assert (finding.check, finding.reason_code) == ("DEVICE_CERTIFICATE_EXPIRING_CHECK", "CERTIFICATE_PAST_EXPIRATION")


# --- key quality ------------------------------------------------------------------------------------------------


def test_a_device_key_made_by_infineons_flawed_generator_is_critical(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, key=roca_key())
    [finding] = audit(manifests)
    assert finding.check == "DEVICE_CERTIFICATE_KEY_QUALITY_CHECK" and finding.severity == Severity.CRITICAL
    assert finding.reason_code == "CERTIFICATE_KEY_VULNERABILITY_CVE-2017-15361"


def test_an_ordinary_rsa_key_is_not_reported(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, key=rsa.generate_private_key(65537, 2048))
    assert audit(manifests) == []


def test_a_ca_key_made_by_infineons_flawed_generator_is_critical_where_the_ca_is_active() -> None:
    ca = make_ca("weak CA")
    weak = issue(ca, "weak CA", is_ca=True, key=roca_key())
    record = CaRecord("weak", weak.cert, (PROD,), Location("manifests/cas.yaml", 3))
    [finding] = run(Inventory(cas=(record,)), AuditSpec(), NOW)
    assert finding.check == "CA_CERTIFICATE_KEY_QUALITY_CHECK" and finding.places == (PROD,)
    inactive = CaRecord("weak", weak.cert, (), Location("manifests/cas.yaml", 3))
    assert run(Inventory(cas=(inactive,)), AuditSpec(), NOW) == []


# --- age ---------------------------------------------------------------------------------------------------------


def test_the_age_check_is_off_unless_the_manifests_set_a_threshold(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, not_before=NOW - datetime.timedelta(days=400), days=800)
    assert audit(manifests) == []  # as in Device Defender, where it is disabled by default
    manifests.text("audit.yaml", "audit:\n  device_certificate_age_days: 365\n")
    [finding] = audit(manifests)
    assert (finding.check, finding.severity) == ("DEVICE_CERTIFICATE_AGE_CHECK", Severity.LOW)
    assert "400 days ago" in finding.message


def test_a_certificate_younger_than_the_age_threshold_is_not_reported(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1, not_before=NOW - datetime.timedelta(days=360), days=800)
    manifests.text("audit.yaml", "audit:\n  device_certificate_age_days: 365\n")
    assert audit(manifests) == []


# --- revocation lists ---------------------------------------------------------------------------------------------


def test_a_device_certificate_on_its_cas_list_but_active_in_aws_is_reported() -> None:
    """`fleet validate` refuses it in the manifests; AWS may still hold it ACTIVE."""
    ca = make_ca("root CA")
    revoked, fine = issue(ca, "revoked"), issue(ca, "fine")
    from fleet.crypto import pki

    crl = pki.load_crl(make_crl(ca, [revoked]))
    root = CaRecord("root", ca.cert, (PROD,), Location("manifests/cas.yaml", 3), crl=crl)
    devices = tuple(
        DeviceRecord(str(n) * 64, name, "ACTIVE", (PROD,), HERE, ca="root", facts=CertificateFacts.of(cert.cert))
        for n, (name, cert) in enumerate((("revoked.pem", revoked), ("fine.pem", fine)))
    )
    [finding] = run(Inventory(cas=(root,), certificates=devices), AuditSpec(), NOW)
    assert finding.check == "REVOKED_DEVICE_CERTIFICATE_STILL_ACTIVE_CHECK"
    assert finding.resource == "certificate:revoked.pem"


def test_an_intermediate_ca_on_its_roots_list_is_reported_with_the_active_certificates_it_signed(
    manifests: Manifests,
) -> None:
    root = manifests.ca("root")
    intermediate = issue(root, "intermediate CA", is_ca=True, days=3000)
    intermediate.write(manifests.root / "pki" / "intermediate.pem")
    for n in range(3):
        issue(intermediate, f"device-{n}").write(manifests.root / "devices" / f"device-{n}.pem")
    (manifests.root / "pki" / "root.crl").write_bytes(make_crl(root, [intermediate]))
    manifests.text("accounts.yaml", _accounts())
    manifests.text(
        "cas.yaml",
        """\
cas:
  root:
    certificate: pki/root.pem
    mode: SNI_ONLY
    revocation_list: pki/root.crl
    placements:
      - account: prod
  intermediate:
    certificate: pki/intermediate.pem
    mode: SNI_ONLY
    placements:
      - account: prod
        status: INACTIVE
""",
    )
    manifests.text("devices.yaml", "device_certificates:\n  line-1:\n    ca: intermediate\n    certificates: devices\n")
    [finding] = audit(manifests)
    assert finding.check == "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK"
    assert finding.resource == "group:line-1" and "3 ACTIVE certificates" in finding.message
    assert finding.location.line == 2  # the group's line, where its status is set
    # The intermediate is INACTIVE, so it is not "still active"; placed ACTIVE, it is that too.
    manifests.text("cas.yaml", (manifests.root / "cas.yaml").read_text().replace("status: INACTIVE", "status: ACTIVE"))
    assert sorted(checks(audit(manifests))) == [
        "INTERMEDIATE_CA_REVOKED_FOR_ACTIVE_DEVICE_CERTIFICATES_CHECK",
        "REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK",
    ]
    # Once the group is revoked, nothing signed by the revoked intermediate is in use.
    manifests.text(
        "devices.yaml",
        "device_certificates:\n  line-1:\n    ca: intermediate\n    certificates: devices\n"
        "    status: REVOKED\n    revocation: {reason: intermediate revoked, date: 2026-01-02}\n",
    )
    from tests.conftest import record_ledger

    record_ledger(manifests)
    assert checks(audit(manifests)) == ["REVOKED_CA_CERTIFICATE_STILL_ACTIVE_CHECK"]


def test_an_intermediate_on_no_list_is_not_reported(manifests: Manifests) -> None:
    root = manifests.ca("root")
    intermediate = issue(root, "intermediate CA", is_ca=True, days=3000)
    intermediate.write(manifests.root / "pki" / "intermediate.pem")
    issue(intermediate, "device-0").write(manifests.root / "devices" / "device-0.pem")
    other = issue(root, "another intermediate CA", is_ca=True)
    (manifests.root / "pki" / "root.crl").write_bytes(make_crl(root, [other]))  # the list names another one
    manifests.text("accounts.yaml", _accounts())
    manifests.text(
        "cas.yaml",
        "cas:\n  root:\n    certificate: pki/root.pem\n    mode: SNI_ONLY\n"
        "    revocation_list: pki/root.crl\n    placements: [{account: prod}]\n"
        "  intermediate:\n    certificate: pki/intermediate.pem\n    mode: SNI_ONLY\n"
        "    placements: [{account: prod}]\n",
    )
    manifests.text("devices.yaml", "device_certificates:\n  line-1:\n    ca: intermediate\n    certificates: devices\n")
    assert audit(manifests) == []


# --- a revoked key re-issued ---------------------------------------------------------------------------------------


def test_a_new_certificate_for_the_key_of_a_revoked_one_is_critical(manifests: Manifests) -> None:
    [leaked] = small_fleet(manifests, devices=1)
    manifests.text(
        "devices.yaml",
        (manifests.root / "devices.yaml").read_text()
        + "    status: REVOKED\n    revocation: {reason: key leaked, date: 2026-01-02}\n",
    )
    from tests.conftest import record_ledger

    record_ledger(manifests)
    assert audit(manifests) == []
    # The same key, certified again, in a group of its own.
    issue(manifests.cas["root"], "device-0-again", key=leaked.key).write(manifests.root / "again" / "d.pem")
    manifests.text("again.yaml", "device_certificates:\n  again:\n    ca: root\n    certificates: again\n")
    [finding] = audit(manifests)
    assert finding.check == "REVOKED_KEY_REISSUED_CHECK" and finding.severity == Severity.CRITICAL
    assert finding.resource == "certificate:again/d.pem"
    assert "revoked on 2026-01-02" in finding.message and "manifests/revocations.yaml" in finding.message


def test_a_key_kept_only_in_the_ledgers_archive_is_still_known(manifests: Manifests) -> None:
    """The revoked certificate's entry left the manifests; its PEM copy in manifests/revoked/ remains."""
    [leaked, kept] = small_fleet(manifests, devices=2)
    (manifests.root / "devices" / "device-0.pem").unlink()
    fingerprint = __import__("fleet.crypto.pki", fromlist=["certificate_id"]).certificate_id(leaked.cert)
    leaked.write(manifests.root / "revoked" / f"{fingerprint}.pem")
    manifests.text(
        "revocations.yaml",
        f"revocations:\n  entries:\n    - date: 2026-01-02\n      reason: key leaked\n"
        f"      places: [111111111111/us-east-1]\n      certificates: |\n        {fingerprint}\n",
    )
    assert audit(manifests) == []
    issue(manifests.cas["root"], "reissued", key=leaked.key).write(manifests.root / "devices" / "device-9.pem")
    assert checks(audit(manifests)) == ["REVOKED_KEY_REISSUED_CHECK"]


def test_a_new_key_for_the_same_device_is_not_reported(manifests: Manifests) -> None:
    small_fleet(manifests, devices=1)
    manifests.text(
        "devices.yaml",
        (manifests.root / "devices.yaml").read_text()
        + "    status: REVOKED\n    revocation: {reason: key leaked, date: 2026-01-02}\n",
    )
    from tests.conftest import record_ledger

    record_ledger(manifests)
    issue(manifests.cas["root"], "device-0").write(manifests.root / "again" / "d.pem")  # same name, new key
    manifests.text("again.yaml", "device_certificates:\n  again:\n    ca: root\n    certificates: again\n")
    assert audit(manifests) == []


def _accounts() -> str:
    from tests.audit_support import ACCOUNTS

    return ACCOUNTS
