"""An estate as fleet import reads it, held in memory, for the import's unit
tests: what fleet.importing.estate.read returns for each place, and an IoT
client that answers the per-certificate calls (DescribeCertificate,
ListPrincipalThings) from it, so fleet.importing.fetching runs as it is.
(The engine tests build estates in the local endpoint with boto3.)"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from devtools.pki import Issued
from fleet.aws.ca import CaState
from fleet.crypto import pki
from fleet.importing import run
from fleet.importing.estate import CaFound, CertificateFound, Place, PlaceEstate, PolicyFound
from fleet.importing.fetching import Fetched, Job, fetch
from fleet.importing.plan import Step
from fleet.manifest.desired import Fleet
from tests.conftest import Manifests, load_manifests

REGIONS = frozenset({"us-east-1", "eu-west-1"})
PROD_EAST = Place("111111111111", "us-east-1", "prod", "arn:aws:iam::111111111111:role/fleet-deployer")
PROD_WEST = Place("111111111111", "eu-west-1", "prod", "arn:aws:iam::111111111111:role/fleet-deployer")
STAGING_EAST = Place("222222222222", "us-east-1", "staging", "arn:aws:iam::222222222222:role/fleet-deployer")
ACCOUNTS = """\
# yaml-language-server: $schema=../schema/manifest.schema.json
#
# Our accounts (a comment the import must keep).
accounts:
  prod:
    id: "111111111111"
    deployer_role_arn: arn:aws:iam::111111111111:role/fleet-deployer
    regions: [us-east-1, eu-west-1]
  staging:
    id: "222222222222"
    deployer_role_arn: arn:aws:iam::222222222222:role/fleet-deployer
    regions: [us-east-1]
"""
REVOKED_ON = datetime.datetime(2026, 10, 1, 12, tzinfo=datetime.UTC)


class Estate:
    def __init__(self) -> None:
        self.places = {p: PlaceEstate(p, {}, {}, {}) for p in (PROD_EAST, PROD_WEST, STAGING_EAST)}
        self.pems: dict[str, str] = {}
        self.things: dict[tuple[str, str], list[str]] = {}  # (ARN, thing) attachments
        self.calls = 0

    def ca(
        self,
        issued: Issued,
        place: Place,
        mode: str = "SNI_ONLY",
        status: str = "ACTIVE",
        auto_registration: str = "DISABLE",
        config: Mapping[str, str] | None = None,
    ) -> str:
        ca_id = pki.certificate_id(issued.cert)
        self.places[place].cas[ca_id] = CaFound(
            CaState(
                ca_id,
                f"arn:aws:iot:{place.region}:{place.account_id}:cacert/{ca_id}",
                status,
                auto_registration,
                mode,
                dict(config or {}),
            ),
            issued.cert_pem,
        )
        return ca_id

    def policy(self, name: str, document: Mapping[str, Any] | str, place: Place, others: tuple[str, ...] = ()) -> None:
        text = document if isinstance(document, str) else json.dumps(document)
        self.places[place].policies[name] = PolicyFound(name, text, others, frozenset())

    def certificate(
        self,
        issued: Issued,
        place: Place,
        status: str = "ACTIVE",
        ca: Issued | None = None,
        policies: tuple[str, ...] = (),
        things: tuple[str, ...] = (),
    ) -> str:
        fp = pki.certificate_id(issued.cert)
        arn = arn_of(place, fp)
        ca_id = pki.certificate_id(ca.cert) if ca is not None else None
        self.places[place].certificates[fp] = CertificateFound(fp, arn, status, ca_id)
        for name in policies:
            policy = self.places[place].policies[name]
            self.places[place].policies[name] = replace(policy, targets=policy.targets | {arn})
        for thing in things:
            self.things[(arn, thing)] = [thing]
        self.pems[fp] = issued.cert_pem
        return fp

    def estates(self) -> list[PlaceEstate]:
        return list(self.places.values())

    def iot(self, place: Place) -> FakeIot:
        return FakeIot(self, place)

    def fetcher(self, manifests: Path) -> Any:
        def fetched(jobs: Mapping[Place, list[Job]]) -> Fetched:
            return fetch(manifests, jobs, self.iot, rate=1000.0, every=3600.0, say=lambda _: None)

        return fetched


class FakeIot:
    """The two per-certificate calls fleet.importing.fetching makes, answered from the estate."""

    def __init__(self, estate: Estate, place: Place):
        self.estate = estate
        self.place = place

    def describe_certificate(self, certificateId: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        self.estate.calls += 1
        return {
            "certificateDescription": {
                "certificatePem": self.estate.pems[certificateId],
                "lastModifiedDate": REVOKED_ON,
            }
        }

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_principal_things"
        estate = self.estate

        class Pages:
            def paginate(self, principal: str, **_: Any) -> Iterator[dict[str, Any]]:
                estate.calls += 1
                yield {"things": [thing for (arn, thing) in estate.things if arn == principal]}

        return Pages()


def arn_of(place: Place, fp: str) -> str:
    return f"arn:aws:iot:{place.region}:{place.account_id}:cert/{fp}"


def fleet_of(manifests: Manifests) -> Fleet:
    return load_manifests(manifests, REGIONS)  # type: ignore[no-any-return]


def prepare(manifests: Manifests, estate: Estate, things: bool = False) -> tuple[run.Outcome, list[Step]]:
    now = datetime.datetime.now(datetime.UTC)
    return run.prepare(
        manifests.root, fleet_of(manifests), estate.estates(), estate.fetcher(manifests.root), things, now
    )


def imported(manifests: Manifests, estate: Estate, things: bool = False) -> run.Outcome:
    """One import, start to end, of the estate into the manifests."""
    from fleet.importing import writing

    outcome, steps = prepare(manifests, estate, things)
    outcome.changed = writing.apply(manifests.root, fleet_of(manifests), steps)
    return outcome


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by its relative path: what two imports are compared by."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
