"""A fleet repository of a team's own, from the templates under fleet/templates:
`fleet init` writes one, `fleet workflows` renews its CI after an upgrade.

The workflows are templates with five holes (the install command, the paths
that trigger a run, the branch an apply runs on, the CA private keys the apply
job gets, the Pulumi CLI version), so this repository's own workflows and every
team's come from the same text (tests/unit/test_new_fleet.py keeps ours equal
to the template).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fleet import DISTRIBUTION
from fleet.manifest import Fleet, model

TEMPLATES = Path(__file__).parent.parent / "templates"
# The pulumi SDK fleet's tests ran (this repository's requirements.txt; tests/unit/test_new_fleet.py keeps
# them equal): what a new fleet pins, whatever pulumi the installing environment happens to have.
TESTED_PULUMI = "3.272.0"
WORKFLOWS = ("pull-request.yml", "main.yml", "drift.yml")
# Template files whose name cannot be their own in the package.
RENAMED = {"gitignore": ".gitignore"}
BYTE_COMPILED = (".pyc", ".pyo")  # never part of a new fleet
# A branch name a workflow's `branches:` filter matches as written: no pattern characters (* ? + [ !),
# nothing YAML would read as something else, and a name git accepts.
BRANCH = re.compile(r"^(?!.*(?:\.\.|//|@\{|\.lock$|/$|\.$))[A-Za-z0-9_][A-Za-z0-9_./-]*$")


@dataclass(frozen=True)
class Ci:
    """What differs between fleets' workflows."""

    install: str = "pip install -r requirements.txt"
    paths: tuple[str, ...] = ("manifests/**", "policies/**", "Pulumi.yaml", "__main__.py", "requirements.txt")
    ca_key_variables: tuple[str, ...] = ()  # environment variables a CA's private_key names
    branch: str = "main"  # the repository's default branch: the apply runs on a push to it
    pulumi_version: str = TESTED_PULUMI  # the Pulumi CLI the workflows install: the SDK's version

    def pulumi(self) -> str:
        return self.pulumi_version


@dataclass(frozen=True)
class Start:
    """A new fleet: its first account, and its repository's default branch."""

    name: str
    account: str = "main"
    account_id: str = "111111111111"
    regions: tuple[str, ...] = ("us-east-1",)
    branch: str = "main"


def branch_problem(branch: str) -> str | None:
    """What is wrong with a --default-branch, or None."""
    if BRANCH.match(branch):
        return None
    return (
        f"--default-branch {branch!r} is not a branch name of letters, digits and '_./-' (no pattern "
        "characters: the apply workflow's `branches:` filter must match it as written)"
    )


def option_problems(account: str, account_id: str, regions: list[str], branch: str = "main") -> list[str]:
    """What is wrong with `fleet init`'s options, in the manifests' own terms."""
    checks = [
        (model.Name, account, "--account", "a name of lowercase letters, digits and '-'"),
        (model.AccountId, account_id, "--account-id", "a 12-digit AWS account id"),
        *((model.Region, r, "--region", "a region such as us-east-1") for r in regions),
    ]
    problems = []
    for kind, value, option, wanted in checks:
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError:
            problems.append(f"{option} {value!r} is not {wanted}")
    wrong_branch = branch_problem(branch)
    return problems + ([wrong_branch] if wrong_branch else [])


def project_name(target: Path) -> str:
    """The folder's name as a Pulumi project name (letters, digits, '-', '_', '.')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", target.resolve().name).strip("-.") or "fleet"


def workflow(name: str, ci: Ci) -> str:
    text = (TEMPLATES / "workflows" / name).read_text()
    paths = "\n".join(f"      - {p}" for p in ci.paths)
    if ci.ca_key_variables:
        keys = "        env:\n" + "\n".join(f"          {v}: ${{{{ secrets.{v} }}}}" for v in ci.ca_key_variables)
    else:
        keys = (
            "        # (none: no CA's private_key names an environment variable; a KMS key or verification "
            "certificates signed offline need no secret)"
        )
    holes = {"PATHS": paths, "INSTALL": ci.install, "CA_KEYS": keys, "PULUMI_VERSION": ci.pulumi(), "BRANCH": ci.branch}
    for hole, value in holes.items():
        text = text.replace(f"%%{hole}%%", value)
    return text


def pinned_pulumi(root: Path) -> str:
    """The pulumi SDK a fleet's requirements.txt pins (its workflows install the CLI of that version), or
    the one fleet was tested with where it pins none."""
    try:
        text = (root / "requirements.txt").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return TESTED_PULUMI
    found = re.search(r"^\s*pulumi\s*==\s*([\w.+-]+)", text, re.M)
    return found[1] if found else TESTED_PULUMI


def key_variables(fleet: Fleet) -> tuple[str, ...]:
    """The environment variables the manifests' CA private keys are read from."""
    return tuple(sorted({p.private_key.env for p in fleet.ca_placements if p.private_key and p.private_key.env}))


def current_branch(root: Path) -> str | None:
    """The branch the apply workflow under ``root`` runs on, as `fleet init` or `fleet workflows` wrote it;
    None when there is none to read."""
    try:
        apply = YAML(typ="safe").load((root / ".github" / "workflows" / "main.yml").read_bytes())
        branches = apply["on"]["push"]["branches"]
    except (OSError, YAMLError, KeyError, TypeError):
        return None
    if (
        isinstance(branches, list)
        and len(branches) == 1
        and isinstance(branches[0], str)
        and branch_problem(branches[0]) is None
    ):
        return branches[0]
    return None


def write_workflows(root: Path, ci: Ci) -> list[Path]:
    """The three workflows under ``root/.github/workflows``; the files it changed."""
    folder = root / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in WORKFLOWS:
        path, text = folder / name, workflow(name, ci)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def init(target: Path, start: Start, schema: str) -> list[Path]:
    """Write a new fleet repository into the folder ``target``; the files written."""
    holes = {
        "NAME": start.name,
        "ACCOUNT": start.account,
        "ACCOUNT_ID": start.account_id,
        "REGIONS": ", ".join(start.regions),
        "FLEET_VERSION": metadata.version(DISTRIBUTION),
        "PULUMI_VERSION": TESTED_PULUMI,
        "BRANCH": start.branch,
    }
    written = []
    for relative in project_files():
        path = target / relative.parent / RENAMED.get(relative.name, relative.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(filled(TEMPLATES / "project" / relative, holes))
        written.append(path)
    written.append(_write(target / "manifests" / "pki" / "example-ca.pem", example_ca(start.name)))
    written.append(_write(target / "schema" / "manifest.schema.json", schema))
    written += write_workflows(target, Ci(branch=start.branch))
    return written


def project_files() -> list[Path]:
    """The project template's files, relative to it, without what Python byte-compiled there
    (pip compiles the template's __main__.py when it installs the wheel)."""
    project = TEMPLATES / "project"
    return sorted(
        p.relative_to(project)
        for p in project.rglob("*")
        if p.is_file() and "__pycache__" not in p.relative_to(project).parts and p.suffix not in BYTE_COMPILED
    )


def filled(source: Path, holes: dict[str, str]) -> bytes:
    """A template file with its holes filled when it is UTF-8 text; any other file as it is, byte for byte."""
    content = source.read_bytes()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content
    for hole, value in holes.items():
        text = text.replace(f"%%{hole}%%", value)
    return text.encode("utf-8")


def example_ca(name: str) -> str:
    """A self-signed CA certificate whose private key is not kept: something to register while trying fleet."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} example CA (fleet init; key discarded)")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM).decode()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
