"""The just-in-time activation function: an AWS Lambda handler for the event
AWS IoT publishes when a device's certificate is registered PENDING_ACTIVATION
under a CA with auto-registration (the IoT rule
``SELECT * FROM '$aws/events/certificates/registered/<caCertificateId>'``):
https://docs.aws.amazon.com/iot/latest/developerguide/auto-register-device-cert.html

    {"certificateId": "<id>", "caCertificateId": "<CA id>", "timestamp": "<ms>",
     "certificateStatus": "PENDING_ACTIVATION", "awsAccountId": "<account>",
     "certificateRegistrationTimestamp": "<ms>"}

`pulumi up` deploys it where a CA placement has ``auto_activation``
(docs/just-in-time.md), with its configuration (fleet.jitr.configuration:
the placements, their policies and revocation lists, the revocation ledger's
fingerprints, every account and region of the fleet) as ``fleet-jitr.json``
at the package's root (or where FLEET_JITR_CONFIG says), and updates that before any certificate of the place
changes. It makes the same decision as `pulumi up` (fleet.jitr.activation.judge),
then, before activating, reads the certificate's record in every other
account and region of its configuration (AWS's REVOKED records are a memory
of revocation that a configuration written earlier does not have) and
refuses one revoked anywhere. What it cannot read (its configuration, a
place) it does not guess: it logs why and fails, the certificate stays
pending, and Lambda tries the event again.

Runs on AWS's Python runtime with boto3 and its own package only (no
cryptography: fleet.jitr.presented). One JSON line per decision in its log.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from fleet.aws.errors import AwsError
from fleet.aws.registrations import Registrations
from fleet.aws.status import CaStatus, CertificateStatus
from fleet.jitr.activation import judge
from fleet.jitr.presented import presented

EVENT_FIELDS = ("certificateId", "caCertificateId", "certificateStatus", "awsAccountId")
CONFIG_FILE = "fleet-jitr.json"
VERSION = 1  # of the configuration's layout
PARALLEL_READS = 8
# (account id, region, role ARN or "" for the function's own credentials) -> that place's records
RegistrationsIn = Callable[[str, str, str], Registrations]


class Undecided(Exception):
    """The handler could not decide: nothing was activated, and Lambda retries the event."""


@dataclass(frozen=True)
class Configuration:
    placements: dict[str, dict[str, Any]]  # placement_key -> ca, status, policies, crl_serials (hex, or None)
    revoked: frozenset[str]
    places: dict[str, str]  # "ACCOUNT_ID/REGION" -> the reader role the function assumes there

    @classmethod
    def of(cls, data: Any) -> Configuration:
        """ValueError when it is not a configuration of this layout."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a fleet-jitr configuration of version {VERSION}")
        placements, revoked, places = data.get("placements"), data.get("revoked"), data.get("places")
        if not isinstance(placements, dict) or not isinstance(revoked, list) or not isinstance(places, dict):
            raise ValueError("placements, revoked and places must be a map, a list and a map")
        return cls(placements, frozenset(str(fp) for fp in revoked), {str(k): str(v) for k, v in places.items()})


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    region = os.environ.get("AWS_REGION", "")
    try:
        config = _config(os.environ.get("FLEET_JITR_CONFIG") or str(Path(__file__).resolve().parents[2] / CONFIG_FILE))
    except (OSError, ValueError) as error:  # ValueError: JSON or layout
        undecided(event, f"its configuration cannot be read ({error})")
    return handle(event, config, region, _registrations())


@functools.cache
def _config(path: str) -> Configuration:
    """Read once per Lambda container, not once per event."""
    return Configuration.of(json.loads(Path(path).read_text(encoding="utf-8")))


@functools.cache
def _registrations() -> RegistrationsIn:
    from fleet.aws.session import SessionFactory
    from fleet.settings import Settings

    factory = SessionFactory(Settings.from_env())
    return lambda account_id, region, role: Registrations(
        factory.client("iot", role, account_id, region), f"account {account_id}, {region}"
    )


def placement_key(account_id: str, region: str, ca_certificate_id: str) -> str:
    return f"{account_id}/{region}/{ca_certificate_id}"


def handle(
    event: dict[str, Any],
    config: Configuration,
    region: str,
    registrations: RegistrationsIn,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    missing = [name for name in EVENT_FIELDS if name not in event]
    if missing:
        raise ValueError(f"not a certificate registration event: missing {', '.join(missing)}")
    certificate_id, ca_id, account_id = event["certificateId"], event["caCertificateId"], event["awsAccountId"]
    placement = config.placements.get(placement_key(account_id, region, ca_id))
    if placement is None:
        return _result(certificate_id, False, f"no auto_activation for CA {ca_id} in {account_id}/{region}")
    here = registrations(account_id, region, "")
    try:
        registered = here.describe(certificate_id)
        if registered is None:
            return _result(certificate_id, False, "it is no longer registered")
        if registered.ca_certificate_id != ca_id:
            return _result(certificate_id, False, "it is registered under another CA")
        ca_in_aws = here.ca_status(ca_id)
    except AwsError as error:
        undecided(event, f"it could not read AWS here: {error}")
    ca_status = str(placement["status"]) if ca_in_aws == CaStatus.ACTIVE else ca_in_aws
    crl = placement.get("crl_serials")
    # signed: AWS registers a certificate under a CA only once it has verified the CA's signature.
    verdict = judge(
        presented(registered.pem),
        registered.status,
        ca_status,
        True,
        None if crl is None else {int(serial, 16) for serial in crl},
        config.revoked,
        now,
    )
    if not verdict.activate:
        return _result(certificate_id, False, verdict.reason)
    elsewhere = revoked_elsewhere(event, config, region, registrations)
    if elsewhere:
        return _result(certificate_id, False, f"it is REVOKED in {elsewhere} (AWS's record)")
    try:
        here.activate(registered, [str(p) for p in placement["policies"]])
    except AwsError as error:
        undecided(event, f"activating it failed: {error}")
    return _result(certificate_id, True, verdict.reason)


def revoked_elsewhere(
    event: dict[str, Any], config: Configuration, region: str, registrations: RegistrationsIn
) -> str | None:
    """Where, among every other account and region of the configuration, AWS has the
    certificate REVOKED ("account A, region"), or None. A place it cannot read is undecided."""
    account_id, certificate_id = event["awsAccountId"], event["certificateId"]
    others = sorted(tuple(key.split("/", 1)) for key in config.places if key != f"{account_id}/{region}")

    def status(place: tuple[str, ...]) -> tuple[str, str | None]:
        other_account, other_region = place
        role = "" if other_account == account_id else config.places[f"{other_account}/{other_region}"]
        found = registrations(other_account, other_region, role).describe(certificate_id)
        return f"account {other_account}, {other_region}", None if found is None else found.status

    try:
        with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
            statuses = list(pool.map(status, others))
    except AwsError as error:
        undecided(event, f"it could not read every account and region of its configuration: {error}")
    return next((where for where, found in statuses if found == CertificateStatus.REVOKED), None)


def undecided(event: dict[str, Any], why: str) -> NoReturn:
    """Fail closed: log why, activate nothing, and fail the invocation (Lambda retries it)."""
    _result(str(event.get("certificateId", "")), False, f"refused, undecided: {why}")
    raise Undecided(why)


def _result(certificate_id: str, activated: bool, reason: str) -> dict[str, Any]:
    result = {"certificateId": certificate_id, "activated": activated, "reason": reason}
    print(json.dumps(result, sort_keys=True), flush=True)  # one line per decision in the function's log
    return result
