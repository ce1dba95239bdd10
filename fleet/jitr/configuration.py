"""The just-in-time function's configuration (fleet.jitr.handler reads it):
every CA placement with ``auto_activation`` (its status, policies and the
serials its revocation list names), every fingerprint the revocation ledger
(and its history) or the manifests revoke, and every account and region of
the fleet with the role the function assumes there to read a certificate's
record. One text for every place, compact and sorted: the same manifests give
the same bytes, so a deployed function changes only when this does.
`pulumi up` ships it in the function's package; `fleet jitr-config` writes
it for a team that deploys the function its own way."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fleet.aws.status import CertificateStatus
from fleet.jitr.activation import crl_serials
from fleet.jitr.handler import VERSION, placement_key
from fleet.manifest.desired import Fleet

READER_ROLE = "fleet-jitr-reader"  # the role in each account the function assumes to read records (docs/production.md)

Place = tuple[str, str]  # (account id, region)


def revoked_in_manifests(fleet: Fleet) -> set[str]:
    """The ledger's fingerprints, its history's, and every certificate the manifests declare REVOKED."""
    return (
        set(fleet.ledger.revocations)
        | set(fleet.ledger.history)
        | {
            c.fingerprint
            for g in fleet.certificate_groups
            for c in g.certificates
            if c.status == CertificateStatus.REVOKED
        }
    )


def places_of(fleet: Fleet, reader_role: str = READER_ROLE) -> dict[Place, str]:
    """Every account and region a record may be in (the manifests' and the ledger's) -> the reader
    role's ARN there (its partition from the account's deployer role)."""
    partitions = {a.id: a.role_arn.split(":")[1] for a in fleet.accounts}
    partitions.update({k: v.split(":")[1] for k, v in fleet.ledger.roles.items() if k not in partitions})
    found = {(a.id, region) for a in fleet.accounts for region in a.regions}
    found |= {place for revocation in fleet.ledger.revocations.values() for place in revocation.places}
    return {
        (account_id, region): f"arn:{partitions.get(account_id, 'aws')}:iam::{account_id}:role/{reader_role}"
        for account_id, region in sorted(found)
    }


def configuration(fleet: Fleet, revoked: set[str], places: Mapping[Place, str]) -> dict[str, Any]:
    placements = {
        placement_key(p.account_id, p.region, p.certificate_id): {
            "ca": p.ca,
            "status": p.status,
            "policies": list(p.activation_policies or []),
            "crl_serials": None if p.crl_pem is None else sorted(f"{s:x}" for s in crl_serials(p.crl_pem)),
        }
        for p in fleet.ca_placements
        if p.activation_policies is not None
    }
    return {
        "version": VERSION,
        "placements": placements,
        "revoked": sorted(revoked),
        "places": {f"{account_id}/{region}": role for (account_id, region), role in sorted(places.items())},
    }


def as_text(config: Mapping[str, Any]) -> str:
    return _json_text(config)


def _json_text(value: Mapping[str, Any]) -> str:
    # Compact, keys sorted, as fleet.model.declarations.json_text: the same configuration is the same bytes,
    # so the function's package (and its CodeSha256) changes only when the configuration does.
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
