"""A fleet repository of a team's own, from the templates under fleet/templates:
`fleet init` writes one, `fleet workflows` renews its CI after an upgrade.

The workflows are templates with four holes (the install command, the paths
that trigger a run, the CA private keys the apply job gets, the Pulumi CLI
version), so this
repository's own workflows and every team's come from the same text
(tests/unit/test_new_fleet.py keeps ours equal to the template).
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

from fleet.manifest import Fleet, model

TEMPLATES = Path(__file__).parent / "templates"
# The pulumi SDK fleet's tests ran (this repository's requirements.txt; tests/unit/test_new_fleet.py keeps
# them equal): what a new fleet pins, whatever pulumi the installing environment happens to have.
TESTED_PULUMI = "3.272.0"
WORKFLOWS = ("pull-request.yml", "main.yml", "drift.yml")
# Template files whose name cannot be their own in the package.
RENAMED = {"gitignore": ".gitignore"}


@dataclass(frozen=True)
class Ci:
    """What differs between fleets' workflows."""

    install: str = "pip install -r requirements.txt"
    paths: tuple[str, ...] = ("manifests/**", "policies/**", "Pulumi.yaml", "__main__.py", "requirements.txt")
    ca_key_variables: tuple[str, ...] = ()  # environment variables a CA's private_key names
    pulumi_version: str = TESTED_PULUMI  # the Pulumi CLI the workflows install: the SDK's version

    def pulumi(self) -> str:
        return self.pulumi_version


@dataclass(frozen=True)
class Start:
    """The first account of a new fleet."""

    name: str
    account: str = "main"
    account_id: str = "111111111111"
    regions: tuple[str, ...] = ("us-east-1",)


def option_problems(account: str, account_id: str, regions: list[str]) -> list[str]:
    """What is wrong with `fleet init`'s options, in the manifests' own terms."""
    checks = [(model.Name, account, "--account", "a name of lowercase letters, digits and '-'"),
              (model.AccountId, account_id, "--account-id", "a 12-digit AWS account id"),
              *((model.Region, r, "--region", "a region such as us-east-1") for r in regions)]
    problems = []
    for kind, value, option, wanted in checks:
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError:
            problems.append(f"{option} {value!r} is not {wanted}")
    return problems


def project_name(target: Path) -> str:
    """The folder's name as a Pulumi project name (letters, digits, '-', '_', '.')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", target.resolve().name).strip("-.") or "fleet"


def workflow(name: str, ci: Ci) -> str:
    text = (TEMPLATES / "workflows" / name).read_text()
    paths = "\n".join(f"      - {p}" for p in ci.paths)
    if ci.ca_key_variables:
        keys = "        env:\n" + "\n".join(f"          {v}: ${{{{ secrets.{v} }}}}" for v in ci.ca_key_variables)
    else:
        keys = "        # (none yet: no CA's private_key names an environment variable)"
    holes = {"PATHS": paths, "INSTALL": ci.install, "CA_KEYS": keys, "PULUMI_VERSION": ci.pulumi()}
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
    holes = {"NAME": start.name, "ACCOUNT": start.account, "ACCOUNT_ID": start.account_id,
             "REGIONS": ", ".join(start.regions), "FLEET_VERSION": metadata.version("fleet"),
             "PULUMI_VERSION": TESTED_PULUMI}
    written = []
    project = TEMPLATES / "project"
    for source in sorted(p for p in project.rglob("*") if p.is_file()):
        relative = source.relative_to(project)
        path = target / relative.parent / RENAMED.get(relative.name, relative.name)
        text = source.read_text()
        for hole, value in holes.items():
            text = text.replace(f"%%{hole}%%", value)
        written.append(_write(path, text))
    written.append(_write(target / "manifests" / "pki" / "example-ca.pem", example_ca(start.name)))
    written.append(_write(target / "schema" / "manifest.schema.json", schema))
    written += write_workflows(target, Ci())
    return written


def example_ca(name: str) -> str:
    """A self-signed CA certificate whose private key is not kept: something to register while trying fleet."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} example CA (fleet init; key discarded)")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.PEM).decode()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
