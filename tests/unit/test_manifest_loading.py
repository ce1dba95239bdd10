"""Loading manifests: the good fleet expands deterministically; every bad input
gets one clear problem naming file, line, column and field."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes

from devtools.pki import make_ca
from fleet.manifest import ManifestError, load_fleet
from tests.conftest import PROD, STAGING, Manifests, load_manifests, problems_in

REGIONS = frozenset({"us-east-1", "eu-west-1", "ap-south-1"})


def load(manifests: Manifests) -> Any:
    return load_manifests(manifests, REGIONS)


def problems_of(manifests: Manifests) -> list[str]:
    return problems_in(manifests, REGIONS)


def basic_fleet(manifests: Manifests, **ca_fields: Any) -> None:
    manifests.ca("root")
    manifests.write("accounts.yaml", {"accounts": {"prod": dict(PROD), "staging": dict(STAGING)}})
    ca = {
        "certificate": "pki/root.pem",
        "mode": "SNI_ONLY",
        "placements": [{"account": "prod", "regions": ["us-east-1"]}],
        **ca_fields,
    }
    manifests.write("cas.yaml", {"cas": {"root": ca}})


def test_a_valid_fleet_expands_to_sorted_placements(manifests: Manifests) -> None:
    basic_fleet(manifests, placements=[{"account": "staging"}, {"account": "prod", "status": "INACTIVE"}])
    fleet = load(manifests)
    assert [p.resource_name for p in fleet.ca_placements] == [
        "root.prod.eu-west-1",
        "root.prod.us-east-1",
        "root.staging.eu-west-1",
        "root.staging.us-east-1",
    ]
    prod = fleet.ca_placements[0]
    assert (prod.status, prod.auto_registration, prod.account_id) == ("INACTIVE", "DISABLE", "111111111111")
    assert prod.certificate_id == manifests.cas["root"].cert.fingerprint(hashes.SHA256()).hex()
    assert prod.source == "manifests/cas.yaml:7"


def test_an_unknown_field_names_file_line_and_suggests_the_right_one(manifests: Manifests) -> None:
    basic_fleet(manifests)
    manifests.text("extra.yaml", "accounts:\n  dev:\n    id: '333333333333'\n    regoins: [us-east-1]\n")
    assert problems_of(manifests) == [
        "manifests/extra.yaml:3:5: accounts.dev.deployer_role_arn: required field is missing",
        "manifests/extra.yaml:3:5: accounts.dev.regions: required field is missing",
        "manifests/extra.yaml:4:5: accounts.dev.regoins: unknown field 'regoins' (did you mean 'regions'?)",
    ]


def test_duplicate_keys_are_refused_with_their_line(manifests: Manifests) -> None:
    basic_fleet(manifests)
    manifests.text("dup.yaml", "accounts:\n  dev:\n    id: '1'\n  dev:\n    id: '2'\n")
    assert problems_of(manifests) == ["manifests/dup.yaml:4:3: duplicate key 'dev' (the mapping starts at line 2)"]


def test_invalid_yaml_is_refused_with_its_line(manifests: Manifests) -> None:
    basic_fleet(manifests)
    manifests.text("broken.yaml", "accounts:\n  dev: [unclosed\n")
    (problem,) = problems_of(manifests)
    assert problem.startswith("manifests/broken.yaml:3:")


@pytest.mark.parametrize("date", ["2099-13-45", "2026-02-30", "2026-00-01"])
def test_a_date_that_is_no_date_is_refused_at_its_line(manifests: Manifests, date: str) -> None:
    basic_fleet(manifests)
    suppression = "    - check: IOT_POLICY_OVERLY_PERMISSIVE_CHECK\n      resource: policy:x\n      reason: r\n"
    manifests.text("audit.yaml", f"audit:\n  suppressions:\n{suppression}      expires: {date}\n")
    (problem,) = problems_of(manifests)
    assert problem.startswith(f"manifests/audit.yaml:6:16: '{date}' is not a date (")


CAS_HEAD = """\
cas:
  root:
    certificate: pki/root.pem
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    mode: SNI\n    placements: [{account: prod}]\n",
            "cas.yaml:4:11: cas.root.mode: must be one of 'DEFAULT' or 'SNI_ONLY', got 'SNI'",
        ),
        (
            "    mode: SNI_ONLY\n    placements:\n      - account: prd\n",
            "cas.yaml:6:18: cas.root.placements[0].account: unknown account 'prd' (did you mean 'prod'?)",
        ),
        (
            "    mode: SNI_ONLY\n    placements:\n      - account: prod\n        regions: [us-east-1, ap-south-1]\n",
            "cas.yaml:7:30: cas.root.placements[0].regions[1]: region 'ap-south-1' is not one of account "
            "'prod''s regions (us-east-1, eu-west-1)",
        ),
        (
            "    mode: SNI_ONLY\n    placements:\n      - account: prod\n        status: REVOKED\n",
            "cas.yaml:7:17: cas.root.placements[0].status: must be one of 'ACTIVE' or 'INACTIVE', got 'REVOKED'",
        ),
        (
            "    mode: SNI_ONLY\n    placements:\n      - account: prod\n        registration_config:\n"
            "          template_body: '{not json'\n",
            "cas.yaml:8:11: cas.root.placements[0].registration_config: template_body is not valid JSON",
        ),
        (
            "    placements: [{account: prod}]\n",
            "cas.yaml:2:3: cas.root: mode DEFAULT needs private_key (kms: recommended; to sign the verification "
            "certificate) or verification_certificates signed offline; or use mode SNI_ONLY",
        ),
        (
            "    private_key: {env: A, file: b}\n    placements: [{account: prod}]\n",
            "cas.yaml:4:18: cas.root.private_key: give exactly one of kms, env or file",
        ),
        (
            "    mode: SNI_ONLY\n    placement: []\n",
            "cas.yaml:5:5: cas.root.placement: unknown field 'placement' (did you mean 'placements'?)",
        ),
    ],
)
def test_bad_ca_fields_are_explained(manifests: Manifests, body: str, expected: str) -> None:
    basic_fleet(manifests)
    manifests.text("cas.yaml", CAS_HEAD + body)
    problems = problems_of(manifests)
    assert any(p.startswith(f"manifests/{expected}") for p in problems), problems


def test_an_unknown_region_suggests_a_known_one(manifests: Manifests) -> None:
    basic_fleet(manifests)
    manifests.write(
        "more.yaml",
        {
            "accounts": {
                "dev": {
                    **PROD,
                    "id": "333333333333",
                    "deployer_role_arn": "arn:aws:iam::333333333333:role/x",
                    "regions": ["us-east-1", "us-eats-1"],
                }
            }
        },
    )
    assert problems_of(manifests) == [
        "manifests/more.yaml:7:7: accounts.dev.regions[1]: unknown AWS IoT region 'us-eats-1' "
        "(did you mean 'us-east-1'?)"
    ]


def test_a_role_in_another_account_is_refused(manifests: Manifests) -> None:
    basic_fleet(manifests)
    manifests.write("more.yaml", {"accounts": {"dev": {**PROD, "id": "333333333333"}}})
    (problem,) = problems_of(manifests)
    assert "accounts.dev: deployer_role_arn is in account 111111111111, not in this account (333333333333)" in problem


def test_malformed_pem_is_refused(manifests: Manifests) -> None:
    basic_fleet(manifests)
    damaged = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    (manifests.root / "pki" / "root.pem").write_text(damaged)
    (problem,) = problems_of(manifests)
    assert problem.startswith("manifests/cas.yaml:3:18: cas.root.certificate: pki/root.pem: malformed PEM certificate")


def test_a_missing_certificate_file_is_refused(manifests: Manifests) -> None:
    basic_fleet(manifests, certificate="pki/nope.pem")
    (problem,) = problems_of(manifests)
    assert problem == (
        "manifests/cas.yaml:3:18: cas.root.certificate: cannot read pki/nope.pem: No such file or directory"
    )


def test_a_certificate_that_is_not_a_ca_is_refused(manifests: Manifests) -> None:
    basic_fleet(manifests)
    make_ca("leaf", is_ca=False).write(manifests.root / "pki" / "root.pem")
    (problem,) = problems_of(manifests)
    assert "is not a CA certificate (basicConstraints CA:TRUE missing)" in problem


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC), 30, "is expired on 2001-01-31"),
        (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3), 30, "is not valid before"),
    ],
)
def test_certificates_outside_their_validity_are_refused(
    manifests: Manifests, start: datetime.datetime, days: int, expected: str
) -> None:
    basic_fleet(manifests)
    make_ca("dated", not_before=start, days=days).write(manifests.root / "pki" / "root.pem")
    (problem,) = problems_of(manifests)
    assert f"cas.root.certificate: pki/root.pem {expected}" in problem


def test_a_default_mode_ca_in_two_accounts_of_one_region_is_refused(manifests: Manifests) -> None:
    basic_fleet(
        manifests,
        mode="DEFAULT",
        private_key={"env": "UNSET_IN_TESTS"},
        placements=[{"account": "prod"}, {"account": "staging", "regions": ["eu-west-1"]}],
    )
    (problem,) = problems_of(manifests)
    assert problem.startswith(
        "manifests/cas.yaml:4:11: cas.root.mode: a CA in DEFAULT mode can be registered by "
        "only one account per region; 'root' is placed in eu-west-1 for accounts prod, staging"
    )


def test_a_wrong_private_key_is_refused_without_showing_it(
    manifests: Manifests, monkeypatch: pytest.MonkeyPatch
) -> None:
    basic_fleet(manifests, mode="DEFAULT", private_key={"env": "ROOT_KEY"})
    other = make_ca("other")
    monkeypatch.setenv("ROOT_KEY", other.key_pem)
    (problem,) = problems_of(manifests)
    assert "the key in environment variable ROOT_KEY is not this CA's private key" in problem
    assert other.key_pem.splitlines()[1] not in problem


def test_the_same_certificate_under_two_names_is_refused(manifests: Manifests) -> None:
    basic_fleet(manifests)
    manifests.write(
        "twin.yaml",
        {"cas": {"twin": {"certificate": "pki/root.pem", "mode": "SNI_ONLY", "placements": [{"account": "staging"}]}}},
    )
    (problem,) = problems_of(manifests)
    assert "is already declared as CA 'root'" in problem and problem.startswith("manifests/twin.yaml:3:")


def test_more_than_ten_cas_with_one_subject_per_account_and_region_are_refused(manifests: Manifests) -> None:
    basic_fleet(manifests)
    cas = {}
    for n in range(11):
        make_ca("same subject").write(manifests.root / "pki" / f"same-{n}.pem")
        cas[f"same-{n}"] = {
            "certificate": f"pki/same-{n}.pem",
            "mode": "SNI_ONLY",
            "placements": [{"account": "prod", "regions": ["us-east-1"]}],
        }
    manifests.write("many.yaml", {"cas": cas})
    (problem,) = problems_of(manifests)
    assert "more than 10 CAs with subject" in problem and "account 'prod', region us-east-1" in problem


def test_no_manifests_at_all_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no \\*.yaml manifests found"):
        load_fleet(tmp_path, known_regions=REGIONS)


def test_the_example_manifests_are_valid() -> None:
    repo = Path(__file__).resolve().parents[2]
    fleet = load_fleet(repo / "manifests", known_regions=REGIONS, display_root=repo)
    assert {p.account for p in fleet.ca_placements} == {"prod", "staging"}
    assert {p.region for p in fleet.ca_placements} == {"us-east-1", "eu-west-1"}
    assert {p.ca for p in fleet.ca_placements} == {"factory-root", "partner-ca"}


def test_a_default_mode_ca_without_its_key_is_valid_where_it_is_registered_already(manifests: Manifests) -> None:
    """What `fleet import` writes for a DEFAULT-mode CA: no key, the places where AWS has it."""
    basic_fleet(manifests, mode="DEFAULT", registered_in=["111111111111/us-east-1"])
    [placement] = load(manifests).ca_placements
    assert (placement.mode, placement.private_key) == ("DEFAULT", None)


def test_a_default_mode_ca_without_its_key_is_refused_where_it_would_be_registered(manifests: Manifests) -> None:
    said = (
        "CA 'root' has no private_key, and its registered_in does not name 111111111111/eu-west-1 (account "
        "'prod'): registering it there in mode DEFAULT needs the key (or use mode SNI_ONLY; where it is "
        "registered already goes under registered_in)"
    )
    basic_fleet(
        manifests,
        mode="DEFAULT",
        registered_in=["111111111111/us-east-1"],
        placements=[{"account": "prod", "regions": ["us-east-1", "eu-west-1"]}],
    )
    assert problems_of(manifests) == [f"manifests/cas.yaml:9:9: cas.root.placements[0].regions[1]: {said}"]
    basic_fleet(manifests, mode="DEFAULT", registered_in=["111111111111/us-east-1"], placements=[{"account": "prod"}])
    assert problems_of(manifests) == [f"manifests/cas.yaml:6:16: cas.root.placements[0].account: {said}"]
