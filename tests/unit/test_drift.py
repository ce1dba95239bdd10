"""fleet.drift on an in-process survey: which differences are drift, which
resource each belongs to, and what `pulumi up` is told to do about them.
(The engine tests make each kind by hand against the local endpoint.)"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from devtools.pki import Issued, issue
from fleet import pki
from fleet.aws.ca import CaState
from fleet.aws.certificates import CertificateSummary
from fleet.aws.policies import PolicyState
from fleet.drift import LINES_PER_RESOURCE, find
from fleet.manifest.desired import Fleet
from fleet.survey import Place, Survey
from tests.conftest import Manifests
from tests.unit.test_device_manifests import ACCOUNTS, CAS, GROUP, POLICIES, TELEMETRY, load

ARN = "arn:aws:iot:us-east-1:111111111111:cert/"


def in_sync(fleet: Fleet) -> Survey:
    """What AWS has when it matches the manifests exactly."""
    places = {}
    for account in fleet.accounts:
        for region in account.regions:
            place = Place(account, region)
            for group in (g for g in fleet.certificate_groups if g.region == region):
                for cert in group.certificates:
                    place.certificates[cert.fingerprint] = CertificateSummary(cert.fingerprint, ARN + cert.fingerprint,
                                                                              cert.status)
            for spec in (p for p in fleet.ca_placements if p.region == region):
                place.cas[spec.certificate_id] = CaState(spec.certificate_id, "arn", spec.status,
                                                         spec.auto_registration, spec.mode, {})
                place.under_ca[spec.certificate_id] = list(place.certificates.values())
            for policy in (p for p in fleet.policies if p.region == region):
                place.policies[policy.name] = PolicyState("1", policy.document)
                place.versions[policy.name] = [(1, True)]
                place.targets[policy.name] = {c.arn for c in place.certificates.values() if c.status != "REVOKED"}
            places[(account.id, region)] = place
    return Survey(places)


@pytest.fixture
def root(manifests: Manifests) -> Issued:
    return manifests.ca("root")


@pytest.fixture
def fleet(manifests: Manifests, root: Issued) -> Fleet:
    for n in range(3):
        issue(root, f"device-{n}").write(manifests.root / "devices" / f"device-{n}.pem")
    for name, text in (("accounts.yaml", ACCOUNTS), ("cas.yaml", CAS), ("policies.yaml", POLICIES),
                       ("telemetry.json", json.dumps(TELEMETRY)), ("devices.yaml", GROUP)):
        manifests.text(name, text)
    return load(manifests)


def kinds(fleet: Fleet, survey: Survey) -> list[tuple[str, str, str]]:
    return [(d.region, d.kind, d.resource) for d in find(fleet, survey).drift]


def test_aws_matching_the_manifests_is_no_drift(fleet: Fleet) -> None:
    assert kinds(fleet, in_sync(fleet)) == []


def test_each_difference_goes_to_the_resource_that_puts_it_back(fleet: Fleet) -> None:
    survey = in_sync(fleet)
    place = survey.places[("111111111111", "us-east-1")]
    first, second = sorted(place.certificates)[:2]
    place.certificates[first] = CertificateSummary(first, ARN + first, "INACTIVE")
    place.targets["telemetry"] -= {ARN + second}
    place.targets["telemetry"] |= {"arn:aws:iot:us-east-1:111111111111:thinggroup/by-hand"}
    place.versions["telemetry"] = [(1, True), (2, False)]
    assert kinds(fleet, survey) == [
        ("us-east-1", "certificate-status", "certs.line-1.prod.us-east-1"),
        ("us-east-1", "policy-detached", "certs.line-1.prod.us-east-1"),
        ("us-east-1", "policy-attached", "policy.telemetry.prod.us-east-1"),
        ("us-east-1", "policy-versions", "policy.telemetry.prod.us-east-1"),
    ]
    assert find(fleet, survey).detach == {
        "policy.telemetry.prod.us-east-1": ["arn:aws:iot:us-east-1:111111111111:thinggroup/by-hand"]}


def test_an_older_non_default_version_is_history_not_drift(fleet: Fleet) -> None:
    survey = in_sync(fleet)
    survey.places[("111111111111", "us-east-1")].versions["telemetry"] = [(1, False), (2, True)]
    assert kinds(fleet, survey) == []


def unlisted(fleet: Fleet, survey: Survey, status: str, root: Issued) -> str:
    """A certificate under root in prod/us-east-1 that no manifest lists."""
    device = issue(root, "self-registered")
    fingerprint = pki.certificate_id(device.cert)
    place = survey.places[("111111111111", "us-east-1")]
    summary = CertificateSummary(fingerprint, ARN + fingerprint, status)
    place.certificates[fingerprint] = summary
    ca_id = fleet.ca_placements[0].certificate_id
    place.under_ca[ca_id].append(summary)
    place.pending_pems[fingerprint] = device.cert_pem
    return fingerprint


def test_certificates_no_manifest_lists_are_drift_of_their_ca(fleet: Fleet, root: Issued) -> None:
    survey = in_sync(fleet)
    pending = unlisted(fleet, survey, "PENDING_ACTIVATION", root)
    unlisted(fleet, survey, "ACTIVE", root)
    unlisted(fleet, survey, "REVOKED", root)  # fleet's own record of a revocation: not drift
    found = find(fleet, survey)
    assert sorted((d.kind, d.resource) for d in found.drift) == [
        ("pending-activation", "root.prod.us-east-1"), ("unlisted-certificate", "root.prod.us-east-1")]
    [said] = [d.manifests for d in found.drift if d.subject == f"certificate {pending[:16]}…"]
    assert "no auto_activation" in said and found.activate == {}


def test_a_revocation_in_aws_is_drift_the_manifests_must_adopt(fleet: Fleet) -> None:
    survey = in_sync(fleet)
    place = survey.places[("111111111111", "eu-west-1")]
    first = sorted(place.certificates)[0]
    place.certificates[first] = CertificateSummary(first, ARN + first, "REVOKED")
    place.revoked_on[first] = "2026-11-20"
    [drift] = find(fleet, survey).drift
    assert (drift.kind, drift.aws) == ("certificate-revoked", "REVOKED since 2026-11-20")
    assert "never un-revoked: adopt the revocation" in drift.manifests


def test_a_resource_carries_a_bounded_number_of_lines(fleet: Fleet, root: Issued) -> None:
    survey = in_sync(fleet)
    for _ in range(LINES_PER_RESOURCE + 5):
        unlisted(fleet, survey, "INACTIVE", root)
    lines = find(fleet, survey).lines_for("root.prod.us-east-1")
    assert len(lines) == LINES_PER_RESOURCE + 1 and lines[-1] == "and 5 more"


def auto_activating(fleet: Fleet) -> Fleet:
    placements = tuple(replace(p, auto_registration="ENABLE", activation_policies=("telemetry",))
                       for p in fleet.ca_placements)
    return replace(fleet, ca_placements=placements)


def test_under_auto_activation_a_good_pending_registration_is_activated_by_up(fleet: Fleet, root: Issued) -> None:
    fleet = auto_activating(fleet)
    survey = in_sync(fleet)
    pending = unlisted(fleet, survey, "PENDING_ACTIVATION", root)
    activated = unlisted(fleet, survey, "ACTIVE", root)  # auto-activated earlier: expected, not drift
    place = survey.places[("111111111111", "us-east-1")]
    place.targets["telemetry"] |= {ARN + activated}  # ...and it may hold the activation policy
    found = find(fleet, survey)
    assert [(d.kind, d.subject) for d in found.drift] == [("pending-activation", f"certificate {pending[:16]}…")]
    assert "`pulumi up` activates it" in found.drift[0].manifests
    assert found.activate == {"root.prod.us-east-1": [pending]}


def test_under_auto_activation_nothing_revoked_elsewhere_is_activated_or_excused(fleet: Fleet, root: Issued) -> None:
    fleet = auto_activating(fleet)
    survey = in_sync(fleet)
    pending = unlisted(fleet, survey, "PENDING_ACTIVATION", root)
    activated = unlisted(fleet, survey, "ACTIVE", root)
    elsewhere = survey.places[("111111111111", "eu-west-1")]
    for fingerprint in (pending, activated):  # revoked in another region
        elsewhere.certificates[fingerprint] = CertificateSummary(fingerprint, ARN + fingerprint, "REVOKED")
    found = find(fleet, survey)
    assert found.activate == {}
    assert sorted(d.kind for d in found.drift) == ["pending-activation", "unlisted-certificate"]
    [refused] = [d for d in found.drift if d.kind == "pending-activation"]
    assert refused.manifests.endswith("refuses it: it is revoked (in AWS or in the manifests)")


def test_nothing_is_activated_under_a_ca_the_manifests_deactivate(fleet: Fleet, root: Issued) -> None:
    fleet = auto_activating(fleet)
    fleet = replace(fleet, ca_placements=tuple(replace(p, status="INACTIVE") for p in fleet.ca_placements))
    survey = in_sync(fleet)
    for place in survey:
        for ca_id, state in place.cas.items():
            assert state is not None
            place.cas[ca_id] = replace(state, status="ACTIVE")  # AWS still has it ACTIVE
    unlisted(fleet, survey, "PENDING_ACTIVATION", root)
    found = find(fleet, survey)
    assert found.activate == {}
    assert any(d.manifests.endswith("refuses it: the CA is INACTIVE") for d in found.drift)
    # The blast radius: the ACTIVE certificates it signed, after the change, in each region.
    assert found.radius == {"root.prod.eu-west-1": 3, "root.prod.us-east-1": 3}
