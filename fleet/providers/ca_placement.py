"""The CA placement resource: one CA certificate registered in one account and region.

create registers it (making the verification certificate in DEFAULT mode) or
adopts it when AWS has it already; update changes status, auto-registration
and registration config in place; read reports what AWS has, in the shape of
the declaration (fleet.model.observe), so drift shows key by key in `pulumi preview
--refresh --diff`; check refuses at preview a placement new to the stack
whose CA AWS holds in the other mode (the program has refused it already,
unless it could not read the state); delete deactivates, then deletes, refuses while device
certificates are still registered under the CA, and leaves the CA alone when
another resource of the run now holds it (a renamed CA or account) or its
account and region now belong to another stack (fleet.providers.registry).
Every write is checked from AWS before the step reports success.

The verification certificate of a DEFAULT-mode registration is signed in
create: by AWS KMS (the key never leaves it: fleet.providers.custody), or offline (the
program checked the certificate the manifests carry), or with a key read from
its reference, which is never returned, logged or put in an error message.
"""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet.aws.ca import CaCertificates, CaState
from fleet.aws.session import shared_factory
from fleet.aws.status import CaStatus
from fleet.crypto import keys, pki
from fleet.model import observe
from fleet.model.declarations import CA_SPEC, CaPlacementInputs
from fleet.providers import custody
from fleet.providers.failures import checked, fail, reported
from fleet.providers.registry import REGISTRY
from fleet.providers.resource import FleetResource, diff_result, read_result, stored
from fleet.providers.target import iot_client, listing

KIND = "ca"
COMPARED = ("status", "auto_registration", "registration_config")  # what AWS changes in place


class CaPlacementProvider(ResourceProvider):
    @checked
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        declared = CaPlacementInputs.of(news)
        REGISTRY.claim(KIND, declared.place, [declared.certificate_id], declared.resource_name)
        if olds:
            return []  # recorded already: a change of mode is a replacement (deregistered, registered again)
        # New to this stack: create adopts the CA when AWS has it, which it cannot in another mode. The
        # program refused this already unless it could not read the state (fleet.program.declare.mode_conflicts).
        existing = _api(declared).describe(declared.certificate_id)
        return (
            [_mode_conflict(declared, existing.mode)] if existing is not None and existing.mode != declared.mode else []
        )

    @reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        declared = CaPlacementInputs.of(props)
        api = _api(declared)
        existing = api.describe(declared.certificate_id)
        if existing is None:
            registered_id = api.register(
                certificate_pem=declared.certificate_pem,
                verification_pem=_verification(api, declared) if declared.mode == "DEFAULT" else None,
                mode=declared.mode,
                status=declared.status,
                auto_registration=declared.auto_registration,
                registration_config=_config(declared.registration_config),
            )
            if registered_id != declared.certificate_id:
                fail(
                    f"{_name(declared)}: AWS gave the CA id {registered_id}, but fleet computed "
                    f"{declared.certificate_id} (SHA-256 of the DER encoding)"
                )
            existing = api.describe(declared.certificate_id)  # a registration that raced ours is settled here
        if existing is not None and existing.mode != declared.mode:  # check refused it, unless it came since
            fail(_mode_conflict(declared, existing.mode))
        return CreateResult(declared.certificate_id, _converged(api, declared, existing))

    @reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        recorded = CaPlacementInputs.of(props)
        found = observe.ca(listing(recorded), recorded)
        return read_result(id_, found.props()) if found is not None else ReadResult(None, {})

    @reported
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # olds are the recorded outputs (what AWS had, refreshed under --refresh).
        had, want = CaPlacementInputs.of(olds), CaPlacementInputs.of(news)
        replaces = CA_SPEC.replaces(stored(olds), stored(news))
        changed = bool(replaces) or had != want
        return diff_result(changed, replaces, CA_SPEC.delete_before_replace)

    @reported
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        declared = CaPlacementInputs.of(news)
        api = _api(declared)
        live = api.describe(declared.certificate_id)
        if live is None:
            fail(f"{_name(declared)}: the CA was deleted outside fleet; `pulumi up --refresh` registers it again")
        return UpdateResult(_converged(api, declared, live))

    @reported
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        recorded = CaPlacementInputs.of(props)
        if REGISTRY.handed_over(recorded.place) or REGISTRY.claimed_elsewhere(
            KIND, recorded.place, recorded.certificate_id, recorded.resource_name
        ):
            return  # another stack, or another resource of this run (a renamed CA), holds it now
        api = _api(recorded)
        live = api.describe(recorded.certificate_id)
        if live is None:
            return
        devices = []
        for device_id in api.device_certificate_ids(recorded.certificate_id):
            devices.append(device_id)
            if len(devices) == 3:
                break
        if devices:
            fail(
                f"{_name(recorded)}: not deleting the CA: device certificates are still registered under it "
                f"(for example {', '.join(d[:12] + '…' for d in devices)}); revoke and remove them first"
            )
        if live.status == CaStatus.ACTIVE:
            api.update(recorded.certificate_id, status=CaStatus.INACTIVE)  # AWS deletes only inactive CAs
        api.delete(recorded.certificate_id)


class CaPlacement(FleetResource, module="fleet", name=CA_SPEC.name):
    def __init__(self, declared: CaPlacementInputs, opts: ResourceOptions | None = None):
        super().__init__(CaPlacementProvider(), declared.resource_name, declared.props(), opts)


def _api(declared: CaPlacementInputs) -> CaCertificates:
    return CaCertificates(iot_client(declared), declared.where)


def _name(declared: CaPlacementInputs) -> str:
    return f"CA {declared.ca} ({declared.source}) in {declared.where}"


def _mode_conflict(declared: CaPlacementInputs, registered_mode: str) -> str:
    return mode_conflict(_name(declared), registered_mode, declared.mode)


def mode_conflict(placement: str, registered_mode: str, declared_mode: str) -> str:
    """Why a placement cannot adopt its CA (the program's guard and check say it too)."""
    return (
        f"{placement}: the CA is already registered in mode {registered_mode}, the manifest says "
        f"{declared_mode}; deregister it first or change the manifest"
    )


def _comparable(inputs: CaPlacementInputs) -> tuple[Any, ...]:
    return inputs.status, inputs.auto_registration, _config(inputs.registration_config)


def _verification(api: CaCertificates, declared: CaPlacementInputs) -> str:
    if declared.verification_certificate:
        return declared.verification_certificate  # signed offline
    if not declared.private_key:
        fail(
            f"{_name(declared)}: mode DEFAULT needs the CA's private_key or a verification certificate for "
            f"{declared.account_id}/{declared.region}"
        )
    ref = keys.KeyRef.from_dict(declared.private_key)
    ca = pki.load_certificate(declared.certificate_pem.encode())
    key: pki.SigningKey
    if ref.kms:
        try:
            key = custody.kms_signer(ca, ref, shared_factory())
        except custody.CustodyError as error:
            fail(f"{_name(declared)}: {error}")
    else:
        key = keys.load_private_key(ref)
        if not pki.key_matches(ca, key):
            fail(f"{_name(declared)}: the private key is not this CA's key")
    now = datetime.datetime.now(datetime.UTC)
    return pki.verification_certificate(ca, key, api.registration_code(), now)


def _converged(api: CaCertificates, declared: CaPlacementInputs, live: CaState | None) -> dict[str, Any]:
    """Change in place what differs, then read AWS again: the step succeeds only
    if AWS now holds the declaration (one more try, then a failure naming what differs)."""
    for _ in range(2):
        if live is None:
            break
        _reconcile(api, live, declared)
        live = api.describe(declared.certificate_id)
        if live is not None and _comparable(_as_inputs(declared, live)) == _comparable(declared):
            return _as_inputs(declared, live).props()
    have = (
        "no such CA"
        if live is None
        else ", ".join(f"{k} {v}" for k, v in zip(COMPARED, _comparable(_as_inputs(declared, live)), strict=True))
    )
    fail(f"{_name(declared)}: AWS does not hold what was written (AWS has {have})")


def _as_inputs(declared: CaPlacementInputs, live: CaState) -> CaPlacementInputs:
    return replace(
        declared,
        status=live.status,
        auto_registration=live.auto_registration,
        mode=live.mode,
        registration_config=dict(live.registration_config),
        verification_certificate=None,
    )


def _reconcile(api: CaCertificates, live: CaState, declared: CaPlacementInputs) -> None:
    desired_config = _config(declared.registration_config)
    api.update(
        live.certificate_id,
        status=declared.status if live.status != declared.status else None,
        auto_registration=declared.auto_registration if live.auto_registration != declared.auto_registration else None,
        registration_config=desired_config if live.registration_config != desired_config else None,
    )


def _config(config: Any) -> dict[str, str]:
    return {k: str(v) for k, v in sorted((config or {}).items()) if v}
