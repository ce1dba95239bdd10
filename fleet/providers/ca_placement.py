"""The CA placement resource: one CA certificate registered in one account and region.

create registers it (making the verification certificate in DEFAULT mode) or
adopts it when AWS has it already; update changes status, auto-registration
and registration config in place; read reports the live state so drift shows
in ``pulumi preview --refresh``; delete deactivates, then deletes, and refuses
while device certificates are still registered under the CA.

The CA private key is loaded only inside create, from its reference, and is
never returned, logged or put in an error message.
"""

from __future__ import annotations

import datetime
from typing import Any

from pulumi import Output, ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet import keys, pki
from fleet.aws.ca import CaCertificates, CaState
from fleet.aws.certificates import Certificates
from fleet.aws.errors import NotFound
from fleet.manifest.desired import CaPlacementSpec
from fleet.providers.current import current_fleet
from fleet.providers.resource import FleetResource
from fleet.providers.target import iot_client, where

# Changing one of these means another AWS object: replace (delete first, as
# AWS refuses a second registration of the same CA in one account and region).
REPLACE_ON_CHANGE = ("certificate_id", "account_id", "region", "mode")
# These AWS updates in place (UpdateCACertificate).
UPDATE_IN_PLACE = ("status", "auto_registration", "registration_config")


class CaPlacementError(Exception):
    """The CA placement cannot reach its desired state; the message says why."""


def inputs_of(
    spec: CaPlacementSpec, manifests: str | None = None, drift: list[str] | None = None,
    activate: list[str] | None = None, active_certificates: int | None = None,
) -> dict[str, Any]:
    return {
        "ca": spec.ca,
        "account": spec.account,
        "account_id": spec.account_id,
        "role_arn": spec.role_arn,
        "region": spec.region,
        "certificate_pem": spec.certificate_pem,
        "certificate_id": spec.certificate_id,
        "mode": spec.mode,
        "status": spec.status,
        "auto_registration": spec.auto_registration,
        "registration_config": dict(spec.registration_config),
        "private_key": spec.private_key.as_dict() if spec.private_key else None,
        "source": spec.source,
        "manifests": manifests,  # as configured: a later delete reads the manifests of its own run
        "activation_policies": list(spec.activation_policies or []),
        # From the program's survey (fleet.drift): what differs, and the pending
        # just-in-time registrations fleet.activation allows to activate.
        "drift": list(drift or []),
        "activate": list(activate or []),
        # When the manifests deactivate the CA: its ACTIVE certificates in AWS,
        # which keep working (the blast radius `fleet review` shows). Not diffed.
        "active_certificates": active_certificates,
    }


class CaPlacementProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        api = _api(props)
        existing = api.describe(props["certificate_id"])
        if existing is None:
            registered_id = api.register(
                certificate_pem=props["certificate_pem"],
                verification_pem=_verification(api, props) if props["mode"] == "DEFAULT" else None,
                mode=props["mode"],
                status=props["status"],
                auto_registration=props["auto_registration"],
                registration_config=_config(props),
            )
            if registered_id != props["certificate_id"]:
                raise CaPlacementError(
                    f"{_name(props)}: AWS gave the CA id {registered_id}, but fleet computed "
                    f"{props['certificate_id']} (SHA-256 of the DER encoding)"
                )
        else:
            if existing.mode != props["mode"]:
                raise CaPlacementError(
                    f"{_name(props)}: the CA is already registered in mode {existing.mode}, the manifest says "
                    f"{props['mode']}; deregister it first or change the manifest"
                )
            _reconcile(api, existing, props)  # adopt what is already there
        return CreateResult(props["certificate_id"], _outputs(props, api.describe(props["certificate_id"])))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = _api(props).describe(id_)
        if live is None:
            return ReadResult(None, {})
        return ReadResult(id_, _outputs(props, live))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # olds are the recorded outputs (refreshed from AWS under --refresh),
        # so comparing them with the manifest's inputs is what reveals drift.
        replaces = [key for key in REPLACE_ON_CHANGE if olds.get(key) != news.get(key)]
        updates = [key for key in UPDATE_IN_PLACE if _normal(olds.get(key)) != _normal(news.get(key))]
        surveyed = bool(news.get("drift") or news.get("activate"))
        return DiffResult(
            changes=bool(replaces or updates or surveyed), replaces=replaces, delete_before_replace=True
        )

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        api = _api(news)
        live = api.describe(id_)
        if live is None:
            raise CaPlacementError(
                f"{_name(news)}: the CA was deleted outside fleet; run `pulumi up --refresh` to register it again"
            )
        _reconcile(api, live, news)
        _activate(news)
        return UpdateResult(_outputs(news, api.describe(id_)))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        api = _api(props)
        live = api.describe(id_)
        if live is None:
            return
        if props.get("manifests") and _claimed_elsewhere(props):
            return  # a renamed CA: the new placement has adopted it
        devices = []
        for device_id in api.device_certificate_ids(id_):
            devices.append(device_id)
            if len(devices) == 3:
                break
        if devices:
            raise CaPlacementError(
                f"{_name(props)}: not deleting the CA: device certificates are still registered under it "
                f"(for example {', '.join(d[:12] + '…' for d in devices)}); revoke and remove them first"
            )
        if live.status == "ACTIVE":
            api.update(id_, status="INACTIVE")  # AWS deletes only inactive CAs
        api.delete(id_)


class CaPlacement(FleetResource, module="fleet", name="CaPlacement"):
    arn: Output[str]
    status: Output[str]

    def __init__(self, spec: CaPlacementSpec, manifests: str, drift: list[str], activate: list[str],
                 active_certificates: int | None, opts: ResourceOptions | None = None):
        inputs = {**inputs_of(spec, manifests, drift, activate, active_certificates), "arn": None}
        super().__init__(CaPlacementProvider(), spec.resource_name, inputs, opts)


def _claimed_elsewhere(props: dict[str, Any]) -> bool:
    """Whether another placement of the current manifests holds this CA in this account and region."""
    fleet = current_fleet(props, f"deleting {_name(props)}")
    return any(
        p.certificate_id == props["certificate_id"] and p.account_id == props["account_id"]
        and p.region == props["region"] and p.ca != props["ca"]
        for p in fleet.ca_placements
    )


def _api(props: dict[str, Any]) -> CaCertificates:
    return CaCertificates(iot_client(props), where(props))


def _name(props: dict[str, Any]) -> str:
    return (
        f"CA {props['ca']} ({props.get('source', 'manifest')}) in account {props['account']} "
        f"({props['account_id']}), {props['region']}"
    )


def _verification(api: CaCertificates, props: dict[str, Any]) -> str:
    if not props.get("private_key"):
        raise CaPlacementError(f"{_name(props)}: mode DEFAULT needs the CA's private_key")
    try:
        key = keys.load_private_key(keys.KeyRef.from_dict(props["private_key"]))
    except keys.KeyUnavailable as error:
        raise CaPlacementError(f"{_name(props)}: {error}") from None
    ca = pki.load_certificate(props["certificate_pem"].encode())
    if not pki.key_matches(ca, key):
        raise CaPlacementError(f"{_name(props)}: the private key is not this CA's key")
    now = datetime.datetime.now(datetime.UTC)
    return pki.verification_certificate(ca, key, api.registration_code(), now)


def _reconcile(api: CaCertificates, live: CaState, props: dict[str, Any]) -> None:
    desired_config = _config(props)
    api.update(
        live.certificate_id,
        status=props["status"] if live.status != props["status"] else None,
        auto_registration=props["auto_registration"] if live.auto_registration != props["auto_registration"] else None,
        registration_config=desired_config if live.registration_config != desired_config else None,
    )


def _activate(props: dict[str, Any]) -> None:
    """Activate the pending registrations the program's decision allowed
    (fleet.activation), attaching the placement's policies first; each is
    checked again just before, as it may have changed since the survey."""
    certificates = Certificates(iot_client(props), where(props))
    for certificate_id in props.get("activate", []):
        try:
            now = certificates.describe(certificate_id)
        except NotFound:
            continue  # deleted since the survey
        if now["status"] != "PENDING_ACTIVATION" or now.get("caCertificateId") != props["certificate_id"]:
            continue
        for policy in props["activation_policies"]:
            certificates.attach(policy, now["certificateArn"])
        certificates.set_status(certificate_id, "ACTIVE")


def _outputs(props: dict[str, Any], live: CaState | None) -> dict[str, Any]:
    outs = {key: value for key, value in props.items() if key != "__provider"}
    outs.update(drift=[], activate=[])
    if live is not None:
        outs.update(
            arn=live.arn,
            status=live.status,
            auto_registration=live.auto_registration,
            mode=live.mode,
            registration_config=live.registration_config,
        )
    return outs


def _config(props: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in _normal(props.get("registration_config")).items()}


def _normal(config: Any) -> Any:
    if isinstance(config, dict) or config is None:
        return {k: v for k, v in sorted((config or {}).items()) if v}
    return config
