"""Stage 3 for policies and device-certificate groups: files, chains, limits.

Each group expands to one CertificateGroupSpec per account and region; each
policy to one PolicySpec wherever a group, or a CA's auto-activation, uses it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from fleet.aws.status import CertificateStatus
from fleet.crypto import pki
from fleet.files import read_bounded
from fleet.manifest import policy_documents
from fleet.manifest.desired import AccountSpec, CaPlacementSpec, CertificateGroupSpec, DeviceCertificate, PolicySpec
from fleet.manifest.model import CertificateException, CertificateGroup, ManifestFile
from fleet.manifest.paths import Confinement
from fleet.manifest.problems import FieldPath, Problem, declared_twice, did_you_mean, field_name
from fleet.manifest.source import SourceFile

# https://docs.aws.amazon.com/general/latest/gr/iot-core.html (policy document size)
MAX_POLICY_CHARACTERS = 2048
SUBSTITUTIONS = ("account", "account_id", "region")
# https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html (thingName)
THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")

Document = tuple[SourceFile, Path, ManifestFile]
MAX_DOCUMENT_BYTES = 64 * 1024  # a policy document: AWS allows 2048 characters without whitespace
MAX_PEM_BYTES = 64 * 1024  # one certificate
WRONG_CA_FILES_SHOWN = 5  # a group of 10^5 certificates under the wrong CA is one line, not 10^5


@dataclass(frozen=True)
class CaFacts:
    """What the device rules need to know about a declared CA."""

    cert: x509.Certificate
    pem: str
    cert_id: str
    crl: x509.CertificateRevocationList | None = None  # the CA's revocation list, when the manifest names one


@dataclass
class _Context:
    """What every group's rules read, and where they say what they found: one check of the manifests."""

    accounts: Mapping[str, AccountSpec]
    cas: Mapping[str, CaFacts]
    ca_placements: Mapping[tuple[str, str, str], CaPlacementSpec]
    policy_files: Mapping[str, object]
    manifests_root: Path
    now: datetime.datetime
    confinement: Confinement
    observe: Callable[[str, x509.Certificate], None] | None
    expired_ok: bool
    problems: list[Problem]
    warnings: list[Problem]
    # fingerprint -> where it was first declared, and the problem to extend when it is declared again
    seen: dict[str, tuple[str, Problem | None]]


def check(
    documents: list[Document],
    accounts: Mapping[str, AccountSpec],
    cas: Mapping[str, CaFacts],
    ca_placements: Mapping[tuple[str, str, str], CaPlacementSpec],
    manifests_root: Path,
    now: datetime.datetime,
    confinement: Confinement,
    problems: list[Problem],
    observe: Callable[[str, x509.Certificate], None] | None = None,
    warnings: list[Problem] | None = None,
    expired_ok: bool = False,
) -> tuple[tuple[PolicySpec, ...], tuple[CertificateGroupSpec, ...]]:
    """``warnings``: receives what AWS accepts but deserves a word (certificates that outlive their CA).
    ``expired_ok``: an expired certificate is no problem (`fleet expiry` lists them)."""
    # name -> (file, document, its path, keep other versions)
    policy_files: dict[str, tuple[SourceFile, str, Path, bool]] = {}
    declared: dict[str, Problem] = {}
    for file, folder, doc in documents:
        for name, policy in doc.policies.items():
            where = ("policies", name, "document")
            here = file.problem(("policies", name), "", at_key=True)
            if name in declared:
                problems.extend(declared_twice("policy", name, declared[name], here))
                continue
            declared[name] = here
            refused = confinement.problem(policy.document, folder / policy.document)
            if refused:
                problems.append(file.problem(where, refused))
                continue
            try:
                text = _read_text(folder / policy.document, MAX_DOCUMENT_BYTES)
            except (OSError, UnicodeDecodeError, ValueError) as error:
                problems.append(file.problem(where, f"cannot read {policy.document}: {_why(error)}"))
                continue
            policy_files[name] = (file, text, (folder / policy.document).resolve(), policy.other_versions == "keep")

    context = _Context(
        accounts,
        cas,
        ca_placements,
        policy_files,
        manifests_root,
        now,
        confinement,
        observe,
        expired_ok,
        problems,
        warnings if warnings is not None else [],
        seen={ca.cert_id: (f"CA {name!r}", None) for name, ca in cas.items()},
    )
    groups: list[CertificateGroupSpec] = []
    policies: dict[tuple[str, str, str], PolicySpec] = {}
    for file, folder, doc in documents:
        for name, group in doc.device_certificates.items():
            groups.extend(_group(context, file, folder, name, group))
    failed: set[str] = set()  # report a bad document once, not once per region
    users = [(g.policies, g.account, g.region) for g in groups] + [
        (p.activation_policies, p.account, p.region) for p in ca_placements.values() if p.activation_policies
    ]
    for names, account, region in users:
        for policy_name in names:
            key = (policy_name, account, region)
            if key in policies or policy_name not in policy_files or policy_name in failed:
                continue
            made = _policy(policy_name, policy_files[policy_name], accounts[account], region, problems)
            if made is None:
                failed.add(policy_name)
            else:
                policies[key] = made
    return (
        tuple(sorted(policies.values(), key=lambda p: (p.name, p.account, p.region))),
        tuple(sorted(groups, key=lambda g: (g.group, g.account, g.region))),
    )


def substitute(text: str, account: AccountSpec, region: str) -> str:
    """A policy document as it is in one account and region: {{account}}, {{account_id}} and {{region}}
    replaced (anything else in double braces is left as it is)."""
    values = {"account": account.name, "account_id": account.id, "region": region}
    return PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), text)


PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _policy(
    name: str,
    declared: tuple[SourceFile, str, Path, bool],
    account: AccountSpec,
    region: str,
    problems: list[Problem],
) -> PolicySpec | None:
    file, text, path, keep_other_versions = declared
    where = ("policies", name, "document")
    substituted = substitute(text, account, region)
    unknown = sorted(set(PLACEHOLDER.findall(substituted)))
    if unknown:
        problems.append(
            file.problem(where, f"unknown substitution {{{{{unknown[0]}}}}}; known: {', '.join(SUBSTITUTIONS)}")
        )
        return None
    document, unreadable = policy_documents.parse(substituted)
    problem = unreadable or policy_documents.shape_problem(document)
    if problem:
        problems.append(file.problem(where, problem))
        return None
    compact = json.dumps(document, separators=(",", ":"), sort_keys=True)
    size = len(re.sub(r"\s", "", compact))
    if size > MAX_POLICY_CHARACTERS:
        problems.append(
            file.problem(
                where,
                f"the document has {size} characters without whitespace in "
                f"{account.name}/{region}; AWS allows {MAX_POLICY_CHARACTERS}",
            )
        )
        return None
    line, _ = file.position(where)
    return PolicySpec(
        name,
        account.name,
        account.id,
        account.role_arn,
        region,
        compact,
        f"{file.path}:{line}",
        str(path),
        keep_other_versions,
    )


def _group(
    context: _Context, file: SourceFile, folder: Path, name: str, group: CertificateGroup
) -> list[CertificateGroupSpec]:
    cas, policy_files, now, problems = context.cas, context.policy_files, context.now, context.problems
    where: FieldPath = ("device_certificates", name)
    before = len(problems)
    ca = None
    if group.ca is not None:
        ca = cas.get(group.ca)
        if ca is None:
            problems.append(file.problem((*where, "ca"), f"unknown CA {group.ca!r}{did_you_mean(group.ca, cas)}"))
            return []
    for index, policy in enumerate(group.policies):
        if policy not in policy_files:
            problems.append(
                file.problem(
                    (*where, "policies", index), f"unknown policy {policy!r}{did_you_mean(policy, policy_files)}"
                )
            )

    for revocation, field in (
        (group.revocation, (*where, "revocation", "date")),
        *((e.revocation, (*where, "exceptions", i, "revocation", "date")) for i, e in enumerate(group.exceptions)),
    ):
        if revocation is not None and revocation.date > now.date():
            problems.append(
                file.problem(field, f"{revocation.date} is in the future: a revocation is recorded once it happened")
            )
    targets = _targets(file, where, group, context.accounts, context.ca_placements, problems)
    certificates = _certificates(context, file, folder, where, group, ca)
    # Said without setting the group aside: the ledger's refusal of a revoked certificate
    # declared usable again must come too, and first (it is said at an earlier line).
    leftover = _revocations_without_revoked(file, where, group)
    if len(problems) > before:
        problems.extend(leftover)
        return []
    problems.extend(leftover)
    line, _ = file.position(where, at_key=True)
    return [
        CertificateGroupSpec(
            group=name,
            ca=group.ca,
            ca_certificate_pem=ca.pem if ca else None,
            ca_id=ca.cert_id if ca else None,
            account=account.name,
            account_id=account.id,
            role_arn=account.role_arn,
            region=region,
            policies=tuple(group.policies),
            certificates=certificates,
            manifests_root=str(context.manifests_root),
            source=f"{file.path}:{line}",
            path=str((folder / group.certificates).resolve()),
            things=group.things,
        )
        for account, region in targets
    ]


def _revocations_without_revoked(file: SourceFile, where: FieldPath, group: CertificateGroup) -> list[Problem]:
    """A revocation beside a status other than REVOKED: most often a revoked certificate
    set back to ACTIVE, which the revocation ledger refuses (at the status' line)."""
    found = []
    for revocable, field in ((group, where), *((e, (*where, "exceptions", i)) for i, e in enumerate(group.exceptions))):
        if revocable.revocation is not None and revocable.status != CertificateStatus.REVOKED:
            found.append(
                file.problem(
                    (*field, "revocation"),
                    (
                        f"only status REVOKED carries a revocation, and the status here is {revocable.status}: set it "
                        "back to REVOKED (a revoked certificate stays revoked), or remove the revocation if nothing "
                        "here was ever revoked"
                    ),
                )
            )
    return found


def _targets(
    file: SourceFile,
    where: FieldPath,
    group: CertificateGroup,
    accounts: Mapping[str, AccountSpec],
    ca_placements: Mapping[tuple[str, str, str], CaPlacementSpec],
    problems: list[Problem],
) -> list[tuple[AccountSpec, str]]:
    if group.placements is None:
        if group.ca is None:
            problems.append(
                file.problem(where, "a group without a CA needs placements (where to register it)", at_key=True)
            )
            return []
        return [(accounts[a], r) for (c, a, r) in sorted(ca_placements) if c == group.ca]
    targets = []
    for index, placement in enumerate(group.placements):
        account = accounts.get(placement.account)
        if account is None:
            hint = did_you_mean(placement.account, accounts)
            problems.append(
                file.problem((*where, "placements", index, "account"), f"unknown account {placement.account!r}{hint}")
            )
            continue
        for region_index, region in enumerate(placement.regions or account.regions):
            field = (*where, "placements", index, "regions", region_index)
            if region not in account.regions:
                problems.append(
                    file.problem(
                        field,
                        f"region {region!r} is not one of account {account.name!r}'s "
                        f"regions ({', '.join(account.regions)})",
                    )
                )
            elif group.ca is not None and (group.ca, account.name, region) not in ca_placements:
                problems.append(
                    file.problem(
                        field,
                        f"CA {group.ca!r} is not placed in account {account.name!r}, "
                        f"region {region}: its certificates cannot be registered there",
                    )
                )
            else:
                targets.append((account, region))
    return targets


def _certificates(
    context: _Context, file: SourceFile, folder: Path, where: FieldPath, group: CertificateGroup, ca: CaFacts | None
) -> tuple[DeviceCertificate, ...]:
    # Locals, not attributes: the loop below runs once per certificate (10^5 in a large group).
    cas, now, seen, problems, observe = context.cas, context.now, context.seen, context.problems, context.observe
    confinement, expired_ok = context.confinement, context.expired_ok
    field = (*where, "certificates")
    refused = confinement.problem(group.certificates, folder / group.certificates)
    if refused:
        problems.append(file.problem(field, refused))
        return ()
    base = (folder / group.certificates).resolve()
    paths = (
        _pem_files(base, confinement, lambda refused: problems.append(file.problem(field, refused)))
        if base.is_dir()
        else [base]
    )
    if not base.exists() or not paths:
        problems.append(file.problem(field, f"no PEM certificate at {group.certificates}"))
        return ()
    exceptions: dict[Path, tuple[int, CertificateException]] = {}
    for index, exception in enumerate(group.exceptions):
        path = (folder / exception.certificate).resolve()
        exception_field = (*where, "exceptions", index, "certificate")
        refused = confinement.problem(exception.certificate, folder / exception.certificate)
        if refused:
            problems.append(file.problem(exception_field, refused))
            continue
        if path in exceptions:  # a second word on one certificate: refused, never "the last one wins"
            first = exceptions[path][0]
            line = file.position((*where, "exceptions", first))[0]
            problems.append(
                file.problem(
                    exception_field,
                    f"{exception.certificate} already has an exception in "
                    f"this group (exceptions[{first}], line {line})",
                )
            )
        elif path not in paths:
            problems.append(file.problem(exception_field, f"{path.name} is not one of this group's certificates"))
        else:
            exceptions[path] = (index, exception)
    group_line, group_column = file.position(where, at_key=True)
    group_field = file.problem(field, "")  # where "declared again" points: the group's certificates
    result = []
    wrongly_chained: dict[str, list[str]] = {}  # who did sign them -> their files
    outlive: list[str] = []  # usable certificates valid beyond their CA's expiry
    inside = f"{context.manifests_root}{os.sep}"
    for path in paths:
        # A certificate's problem is said at its exception, if it has one, else at the group's certificates.
        at = (*where, "exceptions", exceptions[path][0], "certificate") if path in exceptions else field
        shown = str(path).removeprefix(inside)  # relative to the manifests, when inside (string work: 10^5 paths)
        try:
            cert = pki.load_certificate(_read_bytes(path, MAX_PEM_BYTES))
        except (OSError, ValueError, pki.CertificateError) as error:
            problems.append(file.problem(at, f"{shown}: {_why(error)}"))
            continue
        fingerprint = pki.certificate_id(cert)
        if observe is not None:
            observe(fingerprint, cert)
        thing = None
        if group.things == "common-name":
            thing = pki.common_name(cert)
            if thing is None or not THING_NAME.fullmatch(thing):
                problems.append(
                    file.problem(
                        (*where, "things"),
                        f"{shown} ({fingerprint[:12]}…) has no common name usable as a thing name ({thing!r})",
                    )
                )
        if ca is not None and not pki.signed_by(cert, ca.cert):
            wrongly_chained.setdefault(_signer(cert, cas), []).append(shown)
        invalid = pki.validity_problem(cert, now)
        if invalid and not (expired_ok and now > cert.not_valid_after_utc):
            problems.append(file.problem(at, f"{shown} ({fingerprint[:12]}…) is {invalid}"))
        if fingerprint in seen:
            earlier, there = seen[fingerprint]
            problems.append(file.problem(at, f"{shown} ({fingerprint[:12]}…) is already declared in {earlier}"))
            if there is not None:  # said at the first declaration too, naming this one
                problems.append(
                    Problem(
                        there.file,
                        there.line,
                        there.column,
                        there.field,
                        f"{shown} ({fingerprint[:12]}…) is declared again in group {where[1]!r} "
                        f"({file.path}:{group_line})",
                    )
                )
            continue
        seen[fingerprint] = (f"group {where[1]!r} ({file.path}:{group_line})", group_field)
        status: str = group.status
        revocation, source, status_field = group.revocation, f"{file.path}:{group_line}", field_name(where)
        column = group_column
        if path in exceptions:
            index, exception = exceptions[path]
            status, revocation = exception.status, exception.revocation
            exception_line, column = file.position((*where, "exceptions", index))
            source, status_field = f"{file.path}:{exception_line}", field_name((*where, "exceptions", index))
        if (
            ca is not None
            and status != CertificateStatus.REVOKED
            and cert.not_valid_after_utc > ca.cert.not_valid_after_utc
        ):
            outlive.append(str(shown))
        if ca is not None and ca.crl is not None and status != CertificateStatus.REVOKED and pki.on_crl(cert, ca.crl):
            problems.append(
                file.problem(
                    at,
                    f"{shown} ({fingerprint[:12]}…) is on CA {group.ca!r}'s revocation "
                    f"list but declared {status}; declare it REVOKED",
                )
            )
        result.append(
            DeviceCertificate(
                fingerprint=fingerprint,
                file=str(shown),
                status=status,
                revocation_date=revocation.date.isoformat() if revocation else None,
                revocation_reason=revocation.reason if revocation else None,
                source=source,
                thing=thing,
                field=status_field,
                column=column,
            )
        )
    for signer, files in sorted(wrongly_chained.items()):
        problems.append(file.problem((*where, "ca"), _wrongly_chained(signer, sorted(files), group.ca)))
    if ca is not None and outlive:
        # AWS accepts them: a warning, never a refusal.
        context.warnings.append(
            file.problem(
                field,
                f"{len(outlive)} certificate(s) stay valid after CA {group.ca!r} "
                f"expires on {ca.cert.not_valid_after_utc.date().isoformat()} (for "
                f"example {min(outlive)}); AWS accepts them, but plan the CA's "
                "rotation before then (docs/ca-rotation.md)",
            )
        )
    return tuple(sorted(result, key=lambda c: c.fingerprint))


def _signer(cert: x509.Certificate, cas: Mapping[str, CaFacts]) -> str:
    """Who signed a certificate, in the manifests' terms: one of their CAs by name, or else its issuer's subject."""
    for name, ca in sorted(cas.items()):
        if pki.signed_by(cert, ca.cert):  # the issuer's name first: a signature is checked only where it matches
            return f"CA {name!r}"
    return f"none of the manifests' CAs (its issuer is {cert.issuer.rfc4514_string()!r})"


def _wrongly_chained(signer: str, files: list[str], declared: str | None) -> str:
    """One line for the certificates of a group that one other CA signed: how many, which, and who."""
    shown = ", ".join(files[:WRONG_CA_FILES_SHOWN])
    more = f" and {len(files) - WRONG_CA_FILES_SHOWN} more" if len(files) > WRONG_CA_FILES_SHOWN else ""
    count = "1 certificate of this group is" if len(files) == 1 else f"{len(files)} certificates of this group are"
    return f"{count} signed by {signer}, not by CA {declared!r}: {shown}{more}"


def _pem_files(folder: Path, confinement: Confinement, refuse: Callable[[str], None]) -> list[Path]:
    """The folder's *.pem files, sorted. ``folder`` is already resolved, so only a
    link needs resolving (and confining): resolving each of 10^5 plain files
    was most of the cost of loading a large group."""
    with os.scandir(folder) as scanned:
        # as glob("*.pem"); sorted by name, which is the paths' order in one folder (sorting 10^5 Paths cost more)
        entries = sorted(
            (entry for entry in scanned if entry.name.endswith(".pem") and not entry.name.startswith(".")),
            key=lambda entry: entry.name,
        )
    paths = []
    for entry in entries:
        path = folder / entry.name
        if entry.is_symlink():  # a PEM in the folder that is a link to elsewhere
            path = path.resolve()
            refused = confinement.problem(str(path), path)
            if refused:
                refuse(refused)
                continue
        paths.append(path)
    return paths


def _read_bytes(path: Path, limit: int) -> bytes:
    """A file's bytes, refused past ``limit`` (a device certificate is a few KiB)."""
    return read_bounded(path, limit)


def _read_text(path: Path, limit: int) -> str:
    return _read_bytes(path, limit).decode("utf-8")


def _why(error: Exception) -> str:
    if isinstance(error, OSError):
        return str(error.strerror or error)
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(error)
