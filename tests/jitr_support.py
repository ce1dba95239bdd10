"""What the just-in-time tests share: the registration event AWS IoT publishes
(developerguide/auto-register-device-cert.html), the configuration fleet
writes, and each place's records as the handler reads them on the local endpoint."""

from __future__ import annotations

import json
from typing import Any

from devtools.endpoint import LocalAws
from fleet.aws.registrations import Registrations
from fleet.jitr import configuration
from fleet.jitr_lambda import Configuration, RegistrationsIn
from fleet.manifest.desired import Fleet
from tests.conftest import client_in


def registration_event(certificate_id: str, ca_id: str, account_id: str) -> dict[str, Any]:
    return {"certificateId": certificate_id, "caCertificateId": ca_id, "timestamp": 1763900000000,
            "certificateStatus": "PENDING_ACTIVATION", "awsAccountId": account_id,
            "certificateRegistrationTimestamp": "1763900000000"}


def config_of(fleet: Fleet, revoked: frozenset[str] = frozenset()) -> Configuration:
    """What `pulumi up` ships (and `fleet jitr-config` writes), through its JSON text."""
    text = configuration.as_text(configuration.configuration(
        fleet, configuration.revoked_in_manifests(fleet) | revoked, configuration.places_of(fleet)))
    return Configuration.of(json.loads(text))


def records_on(endpoint: LocalAws, roles: list[str] | None = None) -> RegistrationsIn:
    """Each place's records as a console user reaches them; ``roles`` collects the role each read asked for."""
    def registrations(account_id: str, region: str, role: str) -> Registrations:
        if roles is not None:
            roles.append(f"{account_id}/{region}:{role}")
        return Registrations(client_in(endpoint, "iot", account_id, region), f"account {account_id}, {region}")
    return registrations
