"""Drift: where AWS differs from the manifests, as `fleet drift` reports it.

It compares what the program would declare (fleet.program.resources) with what AWS
has in the same shape (fleet.model.observe): exactly what each resource's read
reports to `pulumi preview --refresh`, so the two cannot disagree. Each
difference names its object, what AWS has, what the manifests say (with
file and line) and the Pulumi resource that reconciles it.

What `pulumi up` does about each kind:
- CA status, auto-registration, registration config; device certificate
  status; a policy's document, its other versions and principals; the
  fleet's policies on certificates: put back as the manifests say.
- A revoked record deleted in AWS: registered again, REVOKED.
- A certificate revoked in AWS that the manifests want usable: never
  un-revoked. The run stops until the manifests adopt the revocation.
- Certificates under a managed CA that no manifest lists: left alone (adopt
  them with `fleet pending --adopt`), except pending just-in-time
  registrations under a CA with ``auto_activation``, activated when
  fleet.jitr.activation allows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from fleet.aws.listing import PlaceListing
from fleet.aws.status import CertificateStatus
from fleet.manifest.desired import DeviceCertificate, Fleet
from fleet.manifest.groups import GroupKind, GroupName
from fleet.model import observe
from fleet.model.declarations import (
    ABSENT,
    USABLE,
    CaPlacementInputs,
    Entry,
    Inputs,
    JitrInputs,
    PolicyInputs,
    ShardInputs,
)
from fleet.model.survey import PENDING, Survey
from fleet.program.resources import declare, revoked_everywhere, verdict_for

ListingFor = Callable[[Inputs], PlaceListing]
JitrFor = Callable[[JitrInputs], JitrInputs | None]


@dataclass(frozen=True, order=True)
class Drift:
    account: str
    region: str
    subject: str  # the object that differs: "CA factory-root", "certificate 3fa2…", "policy telemetry"
    kind: str
    aws: str  # what AWS has
    manifests: str  # what the manifests say, and where
    resource: str  # the Pulumi resource that reconciles it

    def __str__(self) -> str:
        return f"{self.account}/{self.region}: {self.subject}: AWS has {self.aws}; manifests: {self.manifests}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def find(
    fleet: Fleet, survey: Survey, listing_for: ListingFor, project_dir: Path, jitr_for: JitrFor | None = None
) -> list[Drift]:
    """``jitr_for``: what AWS has of a just-in-time activation (fleet.model.observe.jitr); None: not compared."""
    declared = declare(fleet, survey, project_dir)
    found: list[Drift] = []
    for activation in declared.jitr if jitr_for is not None else ():
        found.extend(_jitr(activation, jitr_for(activation)))  # type: ignore[misc]
    for ca in declared.cas:
        found.extend(_ca(ca, observe.ca(listing_for(ca), ca)))
    for policy in declared.policies:
        found.extend(_policy(policy, observe.policy(listing_for(policy), policy)))
    certificates = {c.fingerprint: c for g in fleet.certificate_groups for c in g.certificates}
    revoked = revoked_everywhere(fleet, survey)
    for shard in declared.shards:
        listing = listing_for(shard)
        found.extend(_shard(fleet, survey, listing, shard, observe.shard(listing, shard), certificates, revoked))
    return sorted(found)


def _row(inputs: Inputs, subject: str, kind: str, aws: str, manifests: str) -> Drift:
    account, region = inputs.where.split(" (")[0].removeprefix("account "), inputs.place[1]
    return Drift(account, region, subject, kind, aws, manifests, inputs.resource_name)


def _ca(declared: CaPlacementInputs, live: CaPlacementInputs | None) -> list[Drift]:
    subject = f"CA {declared.ca}"
    if live is None:
        return [_row(declared, subject, "ca-missing", "no such CA", f"registered at {declared.source}")]
    rows = []
    for kind, have, want in (
        ("ca-status", live.status, declared.status),
        ("ca-auto-registration", live.auto_registration, declared.auto_registration),
        ("ca-registration-config", _config(live.registration_config), _config(declared.registration_config)),
    ):
        if have != want:
            rows.append(_row(declared, subject, kind, have, f"{want} at {declared.source}"))
    return rows


def _jitr(declared: JitrInputs, live: JitrInputs | None) -> list[Drift]:
    """One row per part that differs: the role, the function, each permission, each rule."""
    said = f"as auto_activation declares ({declared.source}): `pulumi up --refresh` puts it back"
    if live is None:
        return [_row(declared, "just-in-time activation", "jitr-missing", "no function, role or rule", said)]
    rows = []
    role = "role fleet-jitr-" + declared.region
    if not live.role:
        rows.append(_row(declared, role, "jitr-role", "no such role", said))
    elif live.role != declared.role:
        keys = sorted(k for k in declared.role if live.role.get(k) != declared.role[k])
        rows.append(_row(declared, role, "jitr-role", f"another {', '.join(keys)}", said))
    if not live.function:
        rows.append(_row(declared, "function fleet-jitr", "jitr-function", "no such function", said))
    elif live.function != declared.function:
        keys = sorted(k for k in declared.function if live.function.get(k) != declared.function[k])
        rows.append(
            _row(
                declared,
                "function fleet-jitr",
                "jitr-function",
                ", ".join(f"{k} {live.function.get(k)}" for k in keys),
                said,
            )
        )
    for sid in sorted(set(declared.permissions) | set(live.permissions)):
        have, want = live.permissions.get(sid), declared.permissions.get(sid)
        if have != want:
            aws = (
                "no such permission"
                if have is None
                else f"{have.get('principal')} may invoke it from {have.get('source_arn') or 'anywhere'}"
            )
            rows.append(
                _row(
                    declared,
                    f"permission {sid}",
                    "jitr-permission",
                    aws,
                    said if want is not None else "no such permission: `pulumi up --refresh` removes it",
                )
            )
    for name, want in sorted(declared.rules.items()):
        have = live.rules.get(name)
        if have != want:
            aws = (
                "no such rule"
                if have is None
                else "; ".join(f"{k} {have.get(k)}" for k in sorted(want) if have.get(k) != want[k])
            )
            rows.append(_row(declared, f"rule {name}", "jitr-rule", aws, said))
    return rows


def _policy(declared: PolicyInputs, live: PolicyInputs | None) -> list[Drift]:
    subject = f"policy {declared.policy}"
    if live is None:
        return [_row(declared, subject, "policy-missing", "no such policy", f"declared at {declared.source}")]
    rows = []
    if live.document != declared.document:
        rows.append(
            _row(
                declared,
                subject,
                "policy-document",
                "another document as its default version",
                f"the document declared at {declared.source}",
            )
        )
    if live.versions_made_by_hand:
        rows.append(
            _row(
                declared,
                subject,
                "policy-versions",
                f"version {', '.join(live.versions_made_by_hand)} besides the default",
                f"only the declared document ({declared.source})",
            )
        )
    for principal in live.other_principals:
        rows.append(
            _row(
                declared,
                subject,
                "policy-attached",
                f"it attached to {principal}",
                f"not attached there ({declared.source})",
            )
        )
    return rows


def _shard(
    fleet: Fleet,
    survey: Survey,
    listing: PlaceListing,
    declared: ShardInputs,
    live: ShardInputs,
    certificates: dict[str, DeviceCertificate],
    revoked: set[str],
) -> list[Drift]:
    rows = []
    place = survey.place(*declared.place)
    for name, group in declared.groups.items():
        for fp, want in group.certificates.items():
            have = Entry.read(live.groups[name].certificates[fp])
            if have.stored() == want:
                continue
            known = certificates.get(fp)
            subject = f"certificate {fp[:16]}…" + (f" ({known.file})" if known else "")
            said = f"{want} at {known.source if known else group.source}"
            if GroupName.parse(name).kind is GroupKind.AUTOMATIC and have.status == PENDING:
                rows.append(
                    _row(
                        declared,
                        subject,
                        "pending-activation",
                        f"{PENDING} under {group.ca}",
                        f"auto_activation at {group.source}: `pulumi up` activates it",
                    )
                )
            elif have.status == ABSENT:
                kind = "revoked-record-deleted" if want == CertificateStatus.REVOKED else "certificate-missing"
                rows.append(_row(declared, subject, kind, "no such certificate", said))
            elif have.status == CertificateStatus.REVOKED and want in USABLE:
                since = place.revoked_on.get(fp, "an unknown date") if place else "an unknown date"
                rows.append(
                    _row(
                        declared,
                        subject,
                        "certificate-revoked",
                        f"REVOKED since {since}",
                        f"{said}; never un-revoked: adopt the revocation (`fleet drift --adopt-revocations`)",
                    )
                )
            else:
                if have.status != want:
                    rows.append(_row(declared, subject, "certificate-status", have.status, said))
                for policy in have.missing:
                    rows.append(
                        _row(
                            declared,
                            subject,
                            "policy-detached",
                            f"policy {policy} not attached",
                            f"attached ({group.source})",
                        )
                    )
                for policy in have.extra:
                    rows.append(
                        _row(
                            declared,
                            subject,
                            "policy-attached",
                            f"policy {policy} attached",
                            f"not attached ({group.source})",
                        )
                    )
                if have.thingless:
                    rows.append(
                        _row(
                            declared,
                            subject,
                            "thing-detached",
                            "attached to no thing",
                            f"attached to the thing named by its common name ({group.source})",
                        )
                    )
    for fp, text in live.unlisted.items():
        rows.extend(_unlisted(fleet, survey, listing, declared, fp, Entry.read(text), revoked))
    return rows


def _unlisted(
    fleet: Fleet, survey: Survey, listing: PlaceListing, declared: ShardInputs, fp: str, have: Entry, revoked: set[str]
) -> list[Drift]:
    subject = f"certificate {fp[:16]}…"
    rows = [
        _row(declared, subject, "policy-attached", f"policy {policy} attached", "not listed in any manifest")
        for policy in have.extra
    ]
    place = survey.place(*declared.place)
    under = next(
        (
            spec
            for spec in fleet.ca_placements
            if (spec.account_id, spec.region) == declared.place and fp in listing.under_ca(spec.certificate_id)
        ),
        None,
    )
    ca = f" under {under.ca}" if under else ""
    if have.status != PENDING:
        if under is not None or not have.extra:
            rows.append(
                _row(
                    declared, subject, "unlisted-certificate", f"{have.status}{ca}", "not listed: adopt it or delete it"
                )
            )
        return rows
    if under is not None and under.activation_policies is not None and place is not None and fp in place.pending_pems:
        said = f"auto_activation at {under.source} refuses it: {verdict_for(under, place, fp, revoked).reason}"
    else:
        said = (
            f"not listed, no auto_activation at {under.source}: `fleet pending --adopt`"
            if under
            else "not listed: `fleet pending --adopt`"
        )
    rows.append(_row(declared, subject, "pending-activation", f"{PENDING}{ca}", said))
    return rows


def _config(config: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items()) if v) or "none"


def by_kind(drift: list[Drift]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in drift:
        counts[item.kind] += 1
    return dict(sorted(counts.items()))
