"""Drift: where AWS differs from the manifests, found from one survey.

Each difference names its object, what AWS has, what the manifests say (with
file and line) and the Pulumi resource that reconciles it. The program hands
each resource its lines (so `pulumi preview --expect-no-changes` fails and
names the resource) and prints every one; `fleet drift` prints the same.

What `pulumi up` does about each kind:
- CA status, auto-registration, registration config; device certificate
  status; policy document or versions; policies detached from or attached to
  certificates by hand: put back as the manifests say.
- A certificate revoked in AWS that the manifests want usable: never
  un-revoked. The run stops until the manifests adopt the revocation.
- Certificates under a managed CA that no manifest lists: left alone (adopt
  them with `fleet pending --adopt`), except pending just-in-time
  registrations under a CA with ``auto_activation``, activated when
  fleet.activation allows it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from fleet.activation import Verdict, decide
from fleet.manifest.desired import CaPlacementSpec, CertificateGroupSpec, Fleet
from fleet.survey import PENDING, Place, Survey

# How many lines one resource carries in its inputs (and the state): enough
# to name what differs; the count says the rest.
LINES_PER_RESOURCE = 20


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


# A missing CA or policy is no input of its resource: refresh finds it gone and
# the plan creates it. Nothing missing is a warning either: the plan creates it.
PLANNED = ("ca-missing", "policy-missing")
MISSING = (*PLANNED, "certificate-missing")


@dataclass
class Findings:
    drift: list[Drift] = field(default_factory=list)
    activate: dict[str, list[str]] = field(default_factory=dict)  # CA resource -> pending ids to activate
    detach: dict[str, list[str]] = field(default_factory=dict)  # policy resource -> ARNs attached by hand
    # CA resource the manifests deactivate -> ACTIVE certificates under it in AWS (they keep working)
    radius: dict[str, int] = field(default_factory=dict)
    by_resource: dict[str, list[Drift]] = field(default_factory=dict)

    def lines_for(self, resource: str, left_out: tuple[str, ...] = PLANNED) -> list[str]:
        """The resource's differences, at most LINES_PER_RESOURCE of them and a count of the rest."""
        mine = [str(d) for d in self.by_resource.get(resource, []) if d.kind not in left_out]
        if len(mine) > LINES_PER_RESOURCE:
            return [*mine[:LINES_PER_RESOURCE], f"and {len(mine) - LINES_PER_RESOURCE} more"]
        return mine


def revoked_everywhere(fleet: Fleet, survey: Survey) -> set[str]:
    """Fingerprints revoked in any managed account and region, or in the manifests."""
    declared = {c.fingerprint for g in fleet.certificate_groups for c in g.certificates if c.status == "REVOKED"}
    return survey.revoked_anywhere() | declared


def find(fleet: Fleet, survey: Survey) -> Findings:
    findings = Findings()
    revoked = revoked_everywhere(fleet, survey)
    listed: dict[tuple[str, str], set[str]] = defaultdict(set)  # (account id, region) -> declared fingerprints
    for group in fleet.certificate_groups:
        listed[(group.account_id, group.region)].update(c.fingerprint for c in group.certificates)
    for spec in fleet.ca_placements:
        place = survey.place(spec.account_id, spec.region)
        if place is not None:
            _ca(fleet, spec, place, listed[(spec.account_id, spec.region)], revoked, findings)
    for group in fleet.certificate_groups:
        place = survey.place(group.account_id, group.region)
        if place is not None:
            _group(group, place, findings)
    for policy in fleet.policies:
        place = survey.place(policy.account_id, policy.region)
        if place is not None:
            _policy(fleet, policy.name, policy.document, policy.source, policy.resource_name, place, findings)
    findings.drift.sort()
    for item in findings.drift:
        findings.by_resource.setdefault(item.resource, []).append(item)
    return findings


def _group(group: CertificateGroupSpec, place: Place, findings: Findings) -> None:
    for cert in group.certificates:
        live = place.certificates.get(cert.fingerprint)
        subject, resource = f"certificate {cert.fingerprint[:16]}… ({cert.file})", group.resource_name
        said = f"{cert.status} at {cert.source}"
        if live is None:
            if cert.status != "REVOKED":  # a revoked one AWS does not have cannot be used either
                findings.drift.append(_at(place, subject, "certificate-missing", "no such certificate", said,
                                          resource))
            continue
        if live.status == "REVOKED" and cert.status != "REVOKED":
            since = place.revoked_on.get(cert.fingerprint, "an unknown date")
            findings.drift.append(_at(
                place, subject, "certificate-revoked", f"REVOKED since {since}",
                f"{said}; never un-revoked: adopt the revocation (status REVOKED with its revocation)", resource))
        elif live.status != cert.status:
            findings.drift.append(_at(place, subject, "certificate-status", live.status, said, resource))
        if live.status in ("ACTIVE", "INACTIVE") and cert.status != "REVOKED":
            for name in group.policies:
                if live.arn not in place.targets.get(name, set()):
                    findings.drift.append(_at(place, subject, "policy-detached", f"policy {name} not attached",
                                              f"attached ({group.source})", resource))


def _at(place: Place, subject: str, kind: str, aws: str, manifests: str, resource: str) -> Drift:
    return Drift(place.account.name, place.region, subject, kind, aws, manifests, resource)


def _ca(
    fleet: Fleet, spec: CaPlacementSpec, place: Place, listed: set[str], revoked: set[str], findings: Findings
) -> None:
    subject, resource = f"CA {spec.ca}", spec.resource_name
    live = place.cas.get(spec.certificate_id)
    if live is None:
        findings.drift.append(_at(place, subject, "ca-missing", "no such CA", f"registered at {spec.source}",
                                  resource))
        return
    wanted_config = {k: v for k, v in spec.registration_config if v}
    for kind, have, want in (
        ("ca-status", live.status, spec.status),
        ("ca-auto-registration", live.auto_registration, spec.auto_registration),
        ("ca-registration-config", _config(live.registration_config), _config(wanted_config)),
    ):
        if have != want:
            findings.drift.append(_at(place, subject, kind, have, f"{want} at {spec.source}", resource))
    if spec.status != "ACTIVE" and live.status == "ACTIVE":
        findings.radius[resource] = _active_after(fleet, spec, place)
    for cert in place.under_ca.get(spec.certificate_id, []):
        if cert.certificate_id in listed or cert.status == "REVOKED":
            continue  # fleet keeps revoked certificates in AWS as their record
        if spec.activation_policies is not None and cert.status == "ACTIVE" and cert.certificate_id not in revoked:
            continue  # activated by auto_activation, as the manifests allow
        what = f"certificate {cert.certificate_id[:16]}…"
        if cert.status != PENDING:
            findings.drift.append(_at(place, what, "unlisted-certificate", f"{cert.status} under {spec.ca}",
                                      "not listed: adopt it or delete it", resource))
            continue
        decided = spec.activation_policies is not None and cert.certificate_id in place.pending_pems
        verdict = verdict_for(spec, place, cert.certificate_id, revoked) if decided else None
        if verdict is None:
            said = f"not listed, no auto_activation at {spec.source}: `fleet pending --adopt`"
        elif verdict.activate:
            said = f"auto_activation at {spec.source}: `pulumi up` activates it"
            findings.activate.setdefault(resource, []).append(cert.certificate_id)
        else:
            said = f"auto_activation at {spec.source} refuses it: {verdict.reason}"
        findings.drift.append(_at(place, what, "pending-activation", f"{PENDING} under {spec.ca}", said, resource))


def _active_after(fleet: Fleet, spec: CaPlacementSpec, place: Place) -> int:
    """Certificates under the CA that are ACTIVE once the manifests are applied:
    those AWS has ACTIVE (listed or not) unless the manifests say otherwise,
    and those the manifests declare ACTIVE."""
    declared = {
        c.fingerprint: c.status for g in fleet.certificate_groups
        if g.ca == spec.ca and (g.account_id, g.region) == (place.account.id, place.region) for c in g.certificates
    }
    in_aws = {c.certificate_id for c in place.under_ca.get(spec.certificate_id, []) if c.status == "ACTIVE"}
    return len({fp for fp in in_aws if declared.get(fp, "ACTIVE") == "ACTIVE"}
               | {fp for fp, status in declared.items() if status == "ACTIVE"})


def verdict_for(spec: CaPlacementSpec, place: Place, certificate_id: str, revoked: set[str]) -> Verdict:
    """The activation decision for a pending registration under the placement's CA."""
    live = place.cas.get(spec.certificate_id)
    ca_status = spec.status if live is None or live.status == "ACTIVE" else live.status
    return decide(place.pending_pems[certificate_id], PENDING, spec.certificate_pem, ca_status, spec.crl_pem, revoked)


def _policy(
    fleet: Fleet, name: str, document: str, source: str, resource: str, place: Place, findings: Findings
) -> None:
    subject = f"policy {name}"
    live = place.policies.get(name)
    if live is None:
        findings.drift.append(_at(place, subject, "policy-missing", "no such policy", f"declared at {source}",
                                  resource))
        return
    if live.document != document:
        findings.drift.append(_at(place, subject, "policy-document",
                                  f"default version {live.default_version_id} with another document",
                                  f"the document declared at {source}", resource))
    default = max((v for v, is_default in place.versions.get(name, []) if is_default), default=0)
    # fleet makes each new version the default, so a newer non-default one was added by hand.
    added = [v for v, is_default in place.versions.get(name, []) if v > default and not is_default]
    if added:
        findings.drift.append(_at(place, subject, "policy-versions", f"version {', '.join(map(str, added))} "
                                  "added by hand", f"only versions fleet made ({source})", resource))
    expected = _holders(fleet, name, place)
    extra = sorted(place.targets.get(name, set()) - expected)
    for target in extra:
        findings.drift.append(_at(place, subject, "policy-attached", f"it attached to {target}",
                                  f"not attached there ({source})", resource))
    if extra:
        findings.detach[resource] = extra


def _holders(fleet: Fleet, policy: str, place: Place) -> set[str]:
    """ARNs that may hold ``policy`` here: the certificates of groups using it,
    and certificates auto-activated under a CA whose auto_activation attaches it."""
    holders: set[str] = set()
    for group in fleet.certificate_groups:
        if (group.account_id, group.region) == (place.account.id, place.region) and policy in group.policies:
            holders |= {place.certificates[c.fingerprint].arn for c in group.certificates
                        if c.fingerprint in place.certificates}
    for spec in fleet.ca_placements:
        if (spec.account_id, spec.region) == (place.account.id, place.region) and policy in (
            spec.activation_policies or ()
        ):
            holders |= {c.arn for c in place.under_ca.get(spec.certificate_id, []) if c.status == "ACTIVE"}
    return holders


def _config(config: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items())) or "none"


def by_kind(drift: list[Drift]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in drift:
        counts[item.kind] += 1
    return dict(sorted(counts.items()))
