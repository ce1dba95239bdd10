"""Stage 3: rules across files, and AWS's own rules, checked before any call.

Produces the expanded desired state (``Fleet``) together with every problem
found, each located in the file and line the user wrote.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fleet.crypto import keys, pki
from fleet.files import UnreadableFile, read_bounded
from fleet.manifest import device_rules, ledger_rules
from fleet.manifest.desired import AccountSpec, AuditSpec, CaPlacementSpec, Fleet, SuppressionSpec
from fleet.manifest.model import CertificateAuthority, ManifestFile
from fleet.manifest.paths import Confinement
from fleet.manifest.problems import Problem, declared_twice, did_you_mean
from fleet.manifest.source import SourceFile

# https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCACertificate.html
MAX_CAS_PER_SUBJECT = 10
MAX_CA_BYTES = 64 * 1024  # one CA certificate (AWS takes at most 65,536 characters of PEM)
MAX_CRL_BYTES = 256 * 1024 * 1024  # a CA's revocation list may list millions of certificates

Document = tuple[SourceFile, Path, ManifestFile]


@dataclass(frozen=True)
class _Ca:
    name: str
    file: SourceFile
    spec: CertificateAuthority
    cert: x509.Certificate
    pem: str
    cert_id: str
    subject: str
    key: keys.KeyRef | None
    crl_pem: str | None
    verifications: dict[str, tuple[str, str]]  # ACCOUNT_ID/REGION -> (offline verification certificate PEM, file)
    custody_at: str  # "file:line:column: field" of the private_key, for messages


def check(
    documents: list[Document],
    known_regions: frozenset[str],
    now: datetime.datetime,
    manifests_root: Path,
    ledger_history: frozenset[str] = frozenset(),
    unrecorded_ok: bool = False,
    confinement: Confinement | None = None,
    require_keys: bool = False,
    observe: Callable[[str, x509.Certificate], None] | None = None,
    expired_ok: bool = False,
) -> tuple[Fleet, list[Problem]]:
    """``observe``: called with (fingerprint, certificate) for every device certificate read (`fleet audit`
    keeps the facts it needs from the one parse). ``expired_ok``: an expired certificate is no problem
    (`fleet expiry` lists them)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    confinement = confinement or Confinement.of(manifests_root.parent, ())
    accounts: dict[str, AccountSpec] = {}
    declared: dict[str, Problem] = {}
    for file, _folder, doc in documents:
        for name, account in doc.accounts.items():
            where = ("accounts", name)
            here = file.problem(where, "", at_key=True)
            if name in accounts:
                problems.extend(declared_twice("account", name, declared[name], here))
                continue
            declared[name] = here
            for index, region in enumerate(account.regions):
                if region not in known_regions:
                    hint = did_you_mean(region, known_regions)
                    problems.append(
                        file.problem((*where, "regions", index), f"unknown AWS IoT region {region!r}{hint}")
                    )
            twin = next((a.name for a in accounts.values() if a.id == account.id), None)
            if twin is not None:
                problems.append(
                    file.problem((*where, "id"), f"account id {account.id} is already declared as {twin!r}")
                )
            accounts[name] = AccountSpec(
                name, account.id, account.deployer_role_arn, tuple(account.regions), f"{file.path}:{here.line}"
            )

    cas = _load_cas(documents, now, confinement, require_keys, accounts, expired_ok, problems)
    policy_names = {name for _, _, doc in documents for name in doc.policies}
    placements = _expand(cas, accounts, policy_names, problems)
    _check_aws_limits(placements, cas, problems)
    # With each CA's revocation list: no certificate on it may be declared usable.
    facts = {name: device_rules.CaFacts(ca.cert, ca.pem, ca.cert_id, _crl(ca)) for name, ca in cas.items()}
    policies, groups = device_rules.check(
        documents,
        accounts,
        facts,
        placements,
        manifests_root,
        now,
        confinement,
        problems,
        observe,
        warnings,
        expired_ok,
    )
    ledger = ledger_rules.check(
        documents, accounts, groups, manifests_root, now, ledger_history, problems, unrecorded_ok
    )

    fleet = Fleet(
        accounts=tuple(sorted(accounts.values(), key=lambda a: a.name)),
        ca_placements=tuple(sorted(placements.values(), key=lambda p: (p.ca, p.account, p.region))),
        policies=policies,
        certificate_groups=groups,
        ledger=ledger,
        audit=_audit(documents, problems),
        warnings=tuple(sorted(warnings)),
    )
    return fleet, problems


def _audit(documents: list[Document], problems: list[Problem]) -> AuditSpec:
    """The `audit` sections merged: every suppression, and each threshold set at most once."""
    suppressions: list[SuppressionSpec] = []
    thresholds: dict[str, tuple[int, Problem]] = {}
    for file, _folder, doc in documents:
        if doc.audit is None:
            continue
        for index, entry in enumerate(doc.audit.suppressions):
            line, column = file.position(("audit", "suppressions", index))
            suppressions.append(
                SuppressionSpec(
                    entry.check,
                    entry.resource,
                    entry.reason.strip(),
                    entry.expires.isoformat() if entry.expires else None,
                    str(file.path),
                    line,
                    column,
                )
            )
        for name in ("device_certificate_expiring_days", "device_certificate_age_days"):
            value = getattr(doc.audit, name)
            if value is None:
                continue
            here = file.problem(("audit", name), "")
            if name in thresholds:
                first = thresholds[name][1]
                problems.append(file.problem(("audit", name), f"already set at {first.file}:{first.line}"))
                continue
            thresholds[name] = (value, here)
    expiring = thresholds.get("device_certificate_expiring_days")
    age = thresholds.get("device_certificate_age_days")
    return AuditSpec(tuple(suppressions), expiring[0] if expiring else 30, age[0] if age else None)


def _crl(ca: _Ca) -> x509.CertificateRevocationList | None:
    return pki.load_crl(ca.crl_pem.encode()) if ca.crl_pem else None


def _load_cas(
    documents: list[Document],
    now: datetime.datetime,
    confinement: Confinement,
    require_keys: bool,
    accounts: dict[str, AccountSpec],
    expired_ok: bool,
    problems: list[Problem],
) -> dict[str, _Ca]:
    cas: dict[str, _Ca] = {}
    seen_ids: dict[str, str] = {}
    declared: dict[str, Problem] = {}
    for file, folder, doc in documents:
        for name, ca in doc.cas.items():
            where = ("cas", name)
            here = file.problem(where, "", at_key=True)
            if name in declared:
                problems.extend(declared_twice("CA", name, declared[name], here))
                continue
            declared[name] = here
            cert_field = (*where, "certificate")
            path = folder / ca.certificate
            refused = confinement.problem(ca.certificate, path)
            if refused:
                problems.append(file.problem(cert_field, refused))
                continue
            try:
                cert = pki.load_certificate(read_bounded(path, MAX_CA_BYTES))
            except OSError as error:
                problems.append(file.problem(cert_field, f"cannot read {ca.certificate}: {error.strerror}"))
                continue
            except UnreadableFile as error:
                problems.append(file.problem(cert_field, f"cannot read {ca.certificate}: {error}"))
                continue
            except pki.CertificateError as error:
                problems.append(file.problem(cert_field, f"{ca.certificate}: {error}"))
                continue
            if not pki.is_ca(cert):
                problems.append(
                    file.problem(
                        cert_field, f"{ca.certificate} is not a CA certificate (basicConstraints CA:TRUE missing)"
                    )
                )
            invalid = pki.validity_problem(cert, now)
            if invalid and not (expired_ok and now > cert.not_valid_after_utc):
                problems.append(file.problem(cert_field, f"{ca.certificate} is {invalid}"))
            cert_id = pki.certificate_id(cert)
            if cert_id in seen_ids:
                problems.append(
                    file.problem(
                        cert_field,
                        f"the same certificate (id {cert_id[:12]}…) is already declared as CA {seen_ids[cert_id]!r}",
                    )
                )
            seen_ids.setdefault(cert_id, name)
            key = _key_ref(file, folder, name, ca, cert, confinement, require_keys, accounts, problems)
            crl = _revocation_list(file, folder, name, ca, cert, confinement, problems)
            verifications = _verification_certificates(file, folder, name, ca, cert, confinement, problems)
            at = file.problem(("cas", name, "private_key"), "", at_key=True)
            cas[name] = _Ca(
                name,
                file,
                ca,
                cert,
                pki.to_pem(cert),
                cert_id,
                cert.subject.rfc4514_string(),
                key,
                crl,
                verifications,
                f"{at.file}:{at.line}:{at.column}: {at.field}",
            )
    return cas


def _revocation_list(
    file: SourceFile,
    folder: Path,
    name: str,
    ca: CertificateAuthority,
    cert: x509.Certificate,
    confinement: Confinement,
    problems: list[Problem],
) -> str | None:
    """The CA's CRL as PEM, when the manifest names one; it must be the CA's own (signed by it)."""
    if ca.revocation_list is None:
        return None
    where = ("cas", name, "revocation_list")
    refused = confinement.problem(ca.revocation_list, folder / ca.revocation_list)
    if refused:
        problems.append(file.problem(where, refused))
        return None
    try:
        crl = pki.load_crl(read_bounded(folder / ca.revocation_list, MAX_CRL_BYTES))
    except OSError as error:
        problems.append(file.problem(where, f"cannot read {ca.revocation_list}: {error.strerror}"))
        return None
    except UnreadableFile as error:
        problems.append(file.problem(where, f"cannot read {ca.revocation_list}: {error}"))
        return None
    except pki.CertificateError as error:
        problems.append(file.problem(where, f"{ca.revocation_list}: {error}"))
        return None
    if not pki.crl_signed_by(crl, cert):
        problems.append(file.problem(where, f"{ca.revocation_list} is not signed by CA {name!r}"))
        return None
    return crl.public_bytes(serialization.Encoding.PEM).decode()


def _key_ref(
    file: SourceFile,
    folder: Path,
    name: str,
    ca: CertificateAuthority,
    cert: object,
    confinement: Confinement,
    require_keys: bool,
    accounts: dict[str, AccountSpec],
    problems: list[Problem],
) -> keys.KeyRef | None:
    where = ("cas", name, "private_key")
    if ca.private_key is None:
        if ca.mode == "DEFAULT" and ca.verification_certificates is None and not ca.registered_in:
            # with registered_in: said per place not registered (_expand)
            problems.append(
                file.problem(
                    ("cas", name),
                    "mode DEFAULT needs private_key (kms: recommended; to sign the verification "
                    "certificate) or verification_certificates signed offline; or use mode SNI_ONLY",
                    at_key=True,
                )
            )
        return None
    if ca.private_key.kms:
        return _kms_ref(file, name, ca.private_key.kms, ca.private_key.role_arn, accounts, problems)
    if ca.private_key.env:
        ref = keys.KeyRef(env=ca.private_key.env)
    else:
        refused = confinement.problem(str(ca.private_key.file), folder / str(ca.private_key.file))
        if refused:
            problems.append(file.problem((*where, "file"), refused))
            return None
        ref = keys.KeyRef(file=str((folder / str(ca.private_key.file)).resolve()))
    # The key is optional at validation time (PR checks run without secrets), unless
    # required (the apply job, `fleet validate --require-keys`); when it is there, it
    # must be this CA's key.
    if require_keys and ca.mode == "DEFAULT" and not keys.is_available(ref):
        problems.append(
            file.problem(
                where,
                f"the CA private key in {ref.describe()} is not available, and "
                "registering the CA in DEFAULT mode needs it",
            )
        )
    if keys.is_available(ref):
        try:
            key = keys.load_private_key(ref)
        except keys.KeyUnavailable as error:
            problems.append(file.problem(where, str(error)))
            return ref
        if not pki.key_matches(cert, key):  # type: ignore[arg-type]
            problems.append(file.problem(where, f"the key in {ref.describe()} is not this CA's private key"))
    return ref


def _kms_ref(
    file: SourceFile,
    name: str,
    arn: str,
    role_arn: str | None,
    accounts: dict[str, AccountSpec],
    problems: list[Problem],
) -> keys.KeyRef | None:
    """A KMS key, reached through ``role_arn`` or else the deployer role of the account its ARN names
    (whether it is the CA's key is asked of KMS: fleet.providers.custody)."""
    if role_arn is not None:
        return keys.KeyRef(kms=arn, role_arn=role_arn)
    account_id = arn.split(":")[4]
    account = next((a for a in accounts.values() if a.id == account_id), None)
    if account is None:
        problems.append(
            file.problem(
                ("cas", name, "private_key", "kms"),
                f"the key's account {account_id} is not an account of the "
                "manifests: add it, or name the role fleet uses the key through (role_arn: beside kms)",
            )
        )
        return None
    return keys.KeyRef(kms=arn, role_arn=account.role_arn)


def _verification_certificates(
    file: SourceFile,
    folder: Path,
    name: str,
    ca: CertificateAuthority,
    cert: x509.Certificate,
    confinement: Confinement,
    problems: list[Problem],
) -> dict[str, tuple[str, str]]:
    """ACCOUNT_ID/REGION -> (PEM, file) of the verification certificates signed offline; each must be
    signed by the CA's key (its code and dates are checked against AWS where it is used: fleet.providers.custody)."""
    if ca.verification_certificates is None:
        return {}
    where = ("cas", name, "verification_certificates")
    if ca.private_key is not None or ca.mode != "DEFAULT":
        problems.append(
            file.problem(
                where,
                "only a DEFAULT-mode CA without private_key takes verification certificates signed offline",
                at_key=True,
            )
        )
        return {}
    found = {}
    for place, relative in ca.verification_certificates.items():
        field = (*where, place)
        refused = confinement.problem(relative, folder / relative)
        if refused:
            problems.append(file.problem(field, refused))
            continue
        try:
            verification = pki.load_certificate(read_bounded(folder / relative, MAX_CA_BYTES))
        except OSError as error:
            problems.append(file.problem(field, f"cannot read {relative}: {error.strerror}"))
            continue
        except UnreadableFile as error:
            problems.append(file.problem(field, f"cannot read {relative}: {error}"))
            continue
        except pki.CertificateError as error:
            problems.append(file.problem(field, f"{relative}: {error}"))
            continue
        if not pki.signed_by(verification, cert):
            problems.append(file.problem(field, f"{relative} is not signed by CA {name!r} (its private key)"))
            continue
        found[place] = (pki.to_pem(verification), relative)
    return found


def _expand(
    cas: dict[str, _Ca], accounts: dict[str, AccountSpec], policy_names: set[str], problems: list[Problem]
) -> dict[tuple[str, str, str], CaPlacementSpec]:
    placements: dict[tuple[str, str, str], CaPlacementSpec] = {}
    for ca in cas.values():
        for index, placement in enumerate(ca.spec.placements):
            where = ("cas", ca.name, "placements", index)
            account = accounts.get(placement.account)
            if account is None:
                hint = did_you_mean(placement.account, accounts)
                problems.append(ca.file.problem((*where, "account"), f"unknown account {placement.account!r}{hint}"))
                continue
            regions = placement.regions or list(account.regions)
            line, _ = ca.file.position(where)
            activation = placement.auto_activation
            for policy_index, policy in enumerate(activation.policies if activation else []):
                if policy not in policy_names:
                    problems.append(
                        ca.file.problem(
                            (*where, "auto_activation", "policies", policy_index),
                            f"unknown policy {policy!r}{did_you_mean(policy, policy_names)}",
                        )
                    )
            for region_index, region in enumerate(regions):
                if region not in account.regions:
                    problems.append(
                        ca.file.problem(
                            (*where, "regions", region_index),
                            f"region {region!r} is not one of account {account.name!r}'s regions "
                            f"({', '.join(account.regions)})",
                        )
                    )
                    continue
                key = (ca.name, account.name, region)
                if (
                    ca.spec.private_key is None
                    and ca.spec.mode == "DEFAULT"
                    and ca.spec.registered_in
                    and ca.spec.verification_certificates is None
                    and f"{account.id}/{region}" not in ca.spec.registered_in
                ):
                    problems.append(
                        ca.file.problem(
                            (*where, "regions", region_index) if placement.regions else (*where, "account"),
                            f"CA {ca.name!r} has no private_key, and its registered_in does not name {account.id}/"
                            f"{region} (account {account.name!r}): registering it there in mode DEFAULT needs the key "
                            "(or use mode SNI_ONLY; where it is registered already goes under registered_in)",
                        )
                    )
                if key in placements:
                    problems.append(
                        ca.file.problem(
                            where, f"CA {ca.name!r} is placed twice in account {account.name!r}, region {region}"
                        )
                    )
                    continue
                config = placement.registration_config
                verification, verification_file = ca.verifications.get(f"{account.id}/{region}", (None, ""))
                custody_at = ca.custody_at
                if ca.key is None and verification is not None:
                    at = ca.file.problem(("cas", ca.name, "verification_certificates", f"{account.id}/{region}"), "")
                    custody_at = f"{at.file}:{at.line}:{at.column}: {at.field}"
                placements[key] = CaPlacementSpec(
                    ca=ca.name,
                    account=account.name,
                    account_id=account.id,
                    role_arn=account.role_arn,
                    region=region,
                    certificate_pem=ca.pem,
                    certificate_id=ca.cert_id,
                    mode=ca.spec.mode,
                    status=placement.status,
                    auto_registration=placement.auto_registration,
                    registration_config=tuple(
                        sorted((k, v) for k, v in (config.model_dump() if config else {}).items() if v is not None)
                    ),
                    private_key=ca.key,
                    source=f"{ca.file.path}:{line}",
                    activation_policies=tuple(activation.policies) if activation else None,
                    crl_pem=ca.crl_pem,
                    verification_certificate=verification,
                    verification_file=verification_file,
                    custody_at=custody_at,
                )
        placed = {f"{p.account_id}/{p.region}" for p in placements.values() if p.ca == ca.name}
        for place in sorted(set(ca.verifications) - placed):
            problems.append(
                ca.file.problem(
                    ("cas", ca.name, "verification_certificates", place),
                    f"{place} is not a placement of CA {ca.name!r}",
                )
            )
    return placements


def _check_aws_limits(
    placements: dict[tuple[str, str, str], CaPlacementSpec], cas: dict[str, _Ca], problems: list[Problem]
) -> None:
    default_accounts: dict[tuple[str, str], list[CaPlacementSpec]] = defaultdict(list)
    same_subject: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for spec in placements.values():
        if spec.mode == "DEFAULT":
            default_accounts[(spec.ca, spec.region)].append(spec)
        same_subject[(spec.account, spec.region, cas[spec.ca].subject)].append(spec.ca)

    for (ca_name, region), specs in sorted(default_accounts.items()):
        if len({s.account_id for s in specs}) > 1:
            ca = cas[ca_name]
            accounts = ", ".join(sorted({s.account for s in specs}))
            problems.append(
                ca.file.problem(
                    ("cas", ca_name, "mode"),
                    f"a CA in DEFAULT mode can be registered by only one account per region; {ca_name!r} is placed "
                    f"in {region} for accounts {accounts} (use mode SNI_ONLY to share it)",
                )
            )
    for (account, region, subject), names in sorted(same_subject.items()):
        if len(names) > MAX_CAS_PER_SUBJECT:
            ca = cas[sorted(names)[MAX_CAS_PER_SUBJECT]]
            problems.append(
                ca.file.problem(
                    ("cas", ca.name, "certificate"),
                    f"more than {MAX_CAS_PER_SUBJECT} CAs with subject {subject!r} in account {account!r}, "
                    f"region {region} (AWS allows {MAX_CAS_PER_SUBJECT})",
                )
            )
