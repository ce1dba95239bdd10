"""The device-certificate group resource: one group of certificates in one
account and region, as ONE Pulumi resource (never one per certificate).

Inputs carry, per certificate, only its fingerprint, status, file and the
manifest line that sets it: no PEM. Drift comes in as an input: the program
surveys each account and region once per run (fleet.survey) and tells each
group which of its certificates differ (status, policies detached by hand). The provider lists again
(250 a page, and one ListTargetsForPolicy per policy) only when it writes;
every call is paced per account, region and API by the session factory.

A certificate that is REVOKED, in the recorded state or in AWS, is never set
to another status: diff refuses at preview, and every write path re-checks.
Certificates removed from the manifests are deactivated, detached and deleted,
except revoked ones, which stay in AWS, revoked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pulumi import ResourceOptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from fleet import pki
from fleet.aws.certificates import Certificates, CertificateSummary, already_registered
from fleet.aws.errors import AwsError, RuleViolation
from fleet.guard import ABSENT
from fleet.manifest.desired import CertificateGroupSpec, DeviceCertificate
from fleet.providers.current import current_fleet
from fleet.providers.resource import FleetResource
from fleet.providers.target import iot_client, where
from fleet.revocation import RevocationRefused, refusal


def inputs_of(
    spec: CertificateGroupSpec, manifests: str | None = None, drift: list[str] | None = None
) -> dict[str, Any]:
    """Per certificate only what changes between certificates, to keep the state
    small at 10^5 certificates: status and file name; the manifest line and the
    revocation only where they are the certificate's own."""
    folders = {str(Path(c.file).parent) for c in spec.certificates}
    folder = folders.pop() if len(folders) == 1 else ""
    return {
        "group": spec.group, "ca": spec.ca, "ca_certificate_pem": spec.ca_certificate_pem,
        "account": spec.account, "account_id": spec.account_id, "role_arn": spec.role_arn, "region": spec.region,
        "policies": list(spec.policies),
        "certificates": {c.fingerprint: _record(c, folder, spec.source) for c in spec.certificates},
        "manifests_root": spec.manifests_root, "folder": folder, "source": spec.source,
        # As configured (relative to the project, where the provider runs), so a
        # later delete reads the manifests of the run that deletes.
        "manifests": manifests or spec.manifests_root,
        # What the program's one survey of AWS found differing (fleet.drift):
        # statuses, policies detached by hand. The drift signal.
        "drift": list(drift or []),
    }


def _record(cert: DeviceCertificate, folder: str, group_source: str) -> dict[str, str]:
    record = {"status": cert.status, "file": str(Path(cert.file).relative_to(folder)) if folder else cert.file}
    if cert.source != group_source:
        record["source"] = cert.source
    if cert.status == "REVOKED":
        record.update(revoked_on=str(cert.revocation_date), reason=str(cert.revocation_reason))
    if cert.thing:
        record["thing"] = cert.thing
    return record


def _declared(props: dict[str, Any], want: dict[str, str]) -> dict[str, str]:
    """A certificate's record with its full file path and manifest line, for messages."""
    folder = props.get("folder") or ""
    return {**want, "file": str(Path(folder) / want["file"]), "source": want.get("source", props["source"])}


class DeviceCertificatesProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        api = _api(props)
        live = _live(api, props)
        _converge(api, props, live, previous=None)
        return CreateResult(f"{props['group']}.{props['account_id']}.{props['region']}", _outputs(api, props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # No second listing here: the program surveys every account and region
        # once per run (fleet.survey) and passes each group its drift, so a
        # drift check costs one listing, however many groups there are.
        return ReadResult(id_, {k: v for k, v in props.items() if k != "__provider"})

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        _refuse_reactivation(news, olds.get("certificates", {}), {}, news)
        old_certs, new_certs = olds.get("certificates", {}), news["certificates"]
        changed = (
            set(old_certs) != set(new_certs)
            or any(old_certs[fp]["status"] != want["status"] or old_certs[fp].get("thing") != want.get("thing")
                   for fp, want in new_certs.items())
            or sorted(olds.get("policies", [])) != sorted(news["policies"])
            or bool(olds.get("unattached"))
            or bool(news.get("drift"))
        )
        return DiffResult(changes=changed, replaces=[k for k in ("account_id", "region") if olds[k] != news[k]])

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        api = _api(news)
        live = _live(api, news, also=olds.get("certificates", {}))
        _converge(api, news, live, previous=olds)
        return UpdateResult(_outputs(api, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        api = _api(props)
        live = _live(api, props)
        keep = _claimed_elsewhere(props)
        for fingerprint, record in sorted(props["certificates"].items()):
            if fingerprint not in keep:
                _retire(api, live.get(fingerprint), props["policies"], record.get("thing"))


class DeviceCertificates(FleetResource, module="fleet", name="DeviceCertificates"):
    def __init__(self, spec: CertificateGroupSpec, manifests: str, drift: list[str],
                 opts: ResourceOptions | None = None):
        super().__init__(DeviceCertificatesProvider(), spec.resource_name, inputs_of(spec, manifests, drift), opts)


def _api(props: dict[str, Any]) -> Certificates:
    return Certificates(iot_client(props), where(props))


def _ca_id(props: dict[str, Any]) -> str | None:
    pem = props.get("ca_certificate_pem")
    return pki.certificate_id(pki.load_certificate(pem.encode())) if pem else None


def _live(
    api: Certificates, props: dict[str, Any], also: dict[str, Any] | None = None
) -> dict[str, CertificateSummary]:
    """What AWS has for this group's certificates (listed, never described one by one)."""
    wanted = set(props["certificates"]) | set(also or {})
    return {c.certificate_id: c for c in api.list(_ca_id(props)) if c.certificate_id in wanted}


def _refuse_reactivation(
    props: dict[str, Any], recorded: dict[str, Any], live: dict[str, CertificateSummary], news: dict[str, Any]
) -> None:
    for fingerprint, want in sorted(news["certificates"].items()):
        if want["status"] == "REVOKED":
            continue
        before = recorded.get(fingerprint, {})
        in_aws = live.get(fingerprint)
        if before.get("status") == "REVOKED" or (in_aws is not None and in_aws.status == "REVOKED"):
            raise RevocationRefused(refusal(fingerprint, _declared(news, want), where(props), before.get("revoked_on")))


def _converge(
    api: Certificates, props: dict[str, Any], live: dict[str, CertificateSummary], previous: dict[str, Any] | None
) -> None:
    recorded = (previous or {}).get("certificates", {})
    _refuse_reactivation(props, recorded, live, props)  # before any write
    root = Path(props["manifests_root"])
    arns: dict[str, str] = {fp: c.arn for fp, c in live.items()}
    for fingerprint, want in sorted(props["certificates"].items()):
        have = live.get(fingerprint)
        if have is None:
            pem = (root / _declared(props, want)["file"]).read_text(encoding="utf-8")
            try:
                arns[fingerprint] = api.register(pem, props.get("ca_certificate_pem"), want["status"])
            except AwsError as error:
                # A revoked certificate AWS will not register (its CA is now
                # inactive, as after `fleet revoke-ca`) cannot be used either;
                # the manifests keep its record.
                unusable = want["status"] == "REVOKED" and isinstance(error, RuleViolation)
                if not (already_registered(error) or unusable):
                    raise
        elif have.status != want["status"]:
            api.set_status(fingerprint, want["status"])
        thing, had = want.get("thing"), recorded.get(fingerprint, {}).get("thing")
        if had and had != thing and fingerprint in arns:
            api.detach_thing(had, arns[fingerprint])
        if thing and (have is None or had != thing) and fingerprint in arns:
            api.attach_thing(thing, arns[fingerprint])
    for policy in props["policies"]:
        attached = api.targets_of(policy)
        for fingerprint, want in sorted(props["certificates"].items()):
            arn = arns.get(fingerprint)
            if arn and arn not in attached and want["status"] != "REVOKED":
                api.attach(policy, arn)
    if previous:
        dropped = sorted(set(previous.get("policies", [])) - set(props["policies"]))
        for policy in dropped:
            attached = api.targets_of(policy)
            for fingerprint in sorted(props["certificates"]):
                if arns.get(fingerprint) in attached:
                    api.detach(policy, arns[fingerprint])
        removed = sorted(set(recorded) - set(props["certificates"]))
        keep = _claimed_elsewhere(props) if removed else set()
        for fingerprint in removed:
            if fingerprint not in keep:
                _retire(api, live.get(fingerprint), previous.get("policies", []), recorded[fingerprint].get("thing"))


def _claimed_elsewhere(props: dict[str, Any]) -> set[str]:
    """Fingerprints another group of the current manifests declares in this account and region."""
    fleet = current_fleet(props, f"retiring certificates of group {props['group']} in {where(props)}")
    return {
        c.fingerprint
        for g in fleet.certificate_groups
        if g.group != props["group"] and g.account_id == props["account_id"] and g.region == props["region"]
        for c in g.certificates
    }


def _retire(api: Certificates, live: CertificateSummary | None, policies: list[str], thing: str | None) -> None:
    """Remove a certificate from AWS in the order AWS requires: deactivate,
    detach policies and thing, delete. A revoked certificate stays, revoked:
    that is its record."""
    if live is None or live.status == "REVOKED":
        return
    if live.status == "ACTIVE":
        api.set_status(live.certificate_id, "INACTIVE")
    for policy in policies:
        api.detach(policy, live.arn)
    if thing:
        api.detach_thing(thing, live.arn)
    api.delete(live.certificate_id)


def _outputs(api: Certificates, props: dict[str, Any]) -> dict[str, Any]:
    """The inputs, with each certificate's status as AWS has it, and which
    certificates miss one of the group's policies."""
    live = _live(api, props)
    certificates = {
        fp: {**want, "status": live[fp].status if fp in live else ABSENT}
        for fp, want in props["certificates"].items()
    }
    unattached: set[str] = set()
    for policy in props["policies"]:
        attached = api.targets_of(policy)
        unattached |= {fp for fp, c in live.items() if c.arn not in attached and c.status != "REVOKED"}
    own = {k: v for k, v in props.items() if k != "__provider"}
    return {**own, "certificates": certificates, "unattached": sorted(unattached), "drift": []}
