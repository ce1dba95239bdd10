"""Just-in-time registration in the manifests: a CA's revocation list and a
placement's auto_activation, checked before any AWS call with file and line."""

from __future__ import annotations

import json

from devtools.pki import issue, make_ca, make_crl
from tests.conftest import Manifests, load_manifests, problems_in, record_ledger
from tests.unit.test_device_manifests import ACCOUNTS, POLICIES, TELEMETRY

REGIONS = frozenset({"us-east-1", "eu-west-1"})


def write(manifests: Manifests, crl: bytes | None, placement: str) -> None:
    root = manifests.ca("root")
    if crl is not None:
        (manifests.root / "pki" / "root.crl").write_bytes(crl)
    manifests.text("accounts.yaml", ACCOUNTS)
    manifests.text("policies.yaml", POLICIES)
    manifests.text("telemetry.json", json.dumps(TELEMETRY))
    manifests.text(
        "cas.yaml",
        f"""\
cas:
  root:
    certificate: pki/root.pem
    mode: SNI_ONLY
{"    revocation_list: pki/root.crl" if crl is not None else ""}
    placements:
      - account: prod
{placement}""",
    )
    manifests.cas["root"] = root


ENABLED = """\
        auto_registration: ENABLE
        auto_activation:
          policies: [telemetry]
"""


def test_auto_activation_expands_to_every_placement_with_its_policy_and_crl(manifests: Manifests) -> None:
    write(manifests, None, ENABLED)
    root = manifests.cas["root"]
    crl = make_crl(root, [issue(root, "stolen")], der=True)
    (manifests.root / "pki" / "root.crl").write_bytes(crl)
    manifests.text(
        "cas.yaml",
        (manifests.root / "cas.yaml")
        .read_text()
        .replace("    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n"),
    )
    fleet = load_manifests(manifests, REGIONS)
    assert [(p.region, p.activation_policies) for p in fleet.ca_placements] == [
        ("eu-west-1", ("telemetry",)),
        ("us-east-1", ("telemetry",)),
    ]
    assert all(p.crl_pem and p.crl_pem.startswith("-----BEGIN X509 CRL-----") for p in fleet.ca_placements)
    # the policy exists wherever auto-activation attaches it, though no group uses it
    assert sorted((p.name, p.region) for p in fleet.policies) == [
        ("telemetry", "eu-west-1"),
        ("telemetry", "us-east-1"),
    ]


def test_auto_activation_needs_auto_registration(manifests: Manifests) -> None:
    write(manifests, None, "        auto_activation: {policies: []}\n")
    assert problems_in(manifests, REGIONS) == [
        "manifests/cas.yaml:7:9: cas.root.placements[0]: auto_activation needs auto_registration: ENABLE"
    ]


def test_an_unknown_activation_policy_is_named(manifests: Manifests) -> None:
    write(manifests, None, ENABLED.replace("[telemetry]", "[telemetri]"))
    assert problems_in(manifests, REGIONS) == [
        "manifests/cas.yaml:10:22: cas.root.placements[0].auto_activation.policies[0]: unknown policy "
        "'telemetri' (did you mean 'telemetry'?)"
    ]


def test_a_revocation_list_must_be_the_cas_own(manifests: Manifests) -> None:
    stranger = make_ca("root CA")  # same name, another key
    write(manifests, make_crl(stranger, []), ENABLED)
    assert problems_in(manifests, REGIONS) == [
        "manifests/cas.yaml:5:22: cas.root.revocation_list: pki/root.crl is not signed by CA 'root'"
    ]


def test_a_revocation_list_that_is_not_one_is_refused(manifests: Manifests) -> None:
    write(manifests, b"-----BEGIN X509 CRL-----\nnope\n-----END X509 CRL-----\n", ENABLED)
    [problem] = problems_in(manifests, REGIONS)
    assert problem.startswith(
        "manifests/cas.yaml:5:22: cas.root.revocation_list: pki/root.crl: not a certificate "
        "revocation list (PEM or DER)"
    )


def test_revoking_the_ca_turns_auto_activation_off_and_stays_valid(manifests: Manifests) -> None:
    import datetime

    from fleet.revocation import revoke_ca

    write(manifests, None, ENABLED)
    revoke_ca.write(manifests.root, "root", "key stolen", datetime.date(2026, 11, 23))
    fleet = load_manifests(manifests, REGIONS)
    assert {(p.status, p.auto_registration, p.activation_policies) for p in fleet.ca_placements} == {
        ("INACTIVE", "DISABLE", None)
    }


def test_a_certificate_on_its_cas_revocation_list_must_be_declared_revoked(manifests: Manifests) -> None:
    write(manifests, None, "")
    root = manifests.cas["root"]
    stolen = issue(root, "stolen")
    stolen.write(manifests.root / "devices" / "stolen.pem")
    (manifests.root / "pki" / "root.crl").write_bytes(make_crl(root, [stolen]))
    manifests.text(
        "cas.yaml",
        (manifests.root / "cas.yaml")
        .read_text()
        .replace("    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n"),
    )
    manifests.text("devices.yaml", "device_certificates:\n  line-1:\n    ca: root\n    certificates: devices\n")
    [problem] = problems_in(manifests, REGIONS)
    assert problem.startswith(
        "manifests/devices.yaml:4:19: device_certificates.line-1.certificates: devices/stolen.pem ("
    )
    assert problem.endswith("is on CA 'root''s revocation list but declared ACTIVE; declare it REVOKED")
    manifests.text(
        "devices.yaml",
        "device_certificates:\n  line-1:\n    ca: root\n    certificates: devices\n"
        "    status: REVOKED\n    revocation: {reason: on the CRL, date: 2026-11-23}\n",
    )
    record_ledger(manifests, REGIONS)
    assert len(load_manifests(manifests, REGIONS).certificate_groups[0].certificates) == 1
