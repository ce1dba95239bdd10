"""`fleet local`: a local AWS endpoint to try a fleet on, and everything needed to use it.

It starts the project's local endpoint (``python -m localaws``: moto with
fleet's fixes, needs the ``local`` extra) on 127.0.0.1, and writes into a
folder of its own (``.fleet-local`` by default):

- ``env``: the variables to ``source`` before ``pulumi`` and ``fleet`` run
  against it: fleet's endpoint override, credentials the endpoint accepts (and
  no real AWS does), a file backend for the Pulumi state and its passphrase,
  and ``AWS_CONFIG_FILE``;
- ``aws-config``: an AWS CLI profile per account of the manifests, which
  assumes the account's deployer role through the endpoint, so ``aws
  --profile ACCOUNT iot list-certificates`` looks into that account (with
  plain credentials the CLI would land in another account and show nothing).

Everything the endpoint holds lives in its memory and ends with it.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from fleet import DISTRIBUTION

# Accepted by the local endpoint only; never valid anywhere else.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localaws-access-key", "AWS_SECRET_ACCESS_KEY": "localaws-secret-key"}
PASSPHRASE = "fleet-local-only"  # noqa: S105 (local state only; fleet keeps no secret in its state)
REGION = "us-east-1"


class LocalUnavailable(Exception):
    """The local endpoint could not start."""


def start(port: int) -> tuple[subprocess.Popen[str], str]:
    """The endpoint's process and its URL, once it accepts requests."""
    try:
        import moto  # noqa: F401 (only to say what is missing)
    except ImportError:
        raise LocalUnavailable("the local endpoint needs moto: install fleet with its `local` extra "
                               f"(pip install '{DISTRIBUTION}[local]')") from None
    process = subprocess.Popen([sys.executable, "-m", "localaws", "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on " not in line:
        process.kill()
        raise LocalUnavailable(f"the local endpoint did not start (port {port} in use?): {line.strip()!r}")
    return process, line.rsplit(" ", 1)[1].strip()


def environment(url: str, folder: Path) -> dict[str, str]:
    folder = folder.resolve()
    return {**CREDENTIALS, "FLEET_AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL": url, "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": str(folder / "aws-config"), "PULUMI_BACKEND_URL": (folder / "state").as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}


def aws_config(url: str, accounts: list[tuple[str, str]]) -> str:
    """A profile ``local`` with the endpoint's credentials, and one per (account name, deployer role)."""
    lines = ["[profile local]", f"aws_access_key_id = {CREDENTIALS['AWS_ACCESS_KEY_ID']}",
             f"aws_secret_access_key = {CREDENTIALS['AWS_SECRET_ACCESS_KEY']}", f"region = {REGION}",
             f"endpoint_url = {url}", ""]
    for name, role_arn in accounts:
        lines += [f"[profile {name}]", f"role_arn = {role_arn}", "source_profile = local", f"region = {REGION}",
                  f"endpoint_url = {url}", ""]
    return "\n".join(lines)


def write(folder: Path, url: str, accounts: list[tuple[str, str]]) -> Path:
    """Writes ``env`` and ``aws-config`` into ``folder``; returns the env file."""
    (folder / "state").mkdir(parents=True, exist_ok=True)
    (folder / "aws-config").write_text(aws_config(url, accounts))
    env = folder / "env"
    env.write_text("".join(f"export {name}={shlex.quote(value)}\n"
                           for name, value in environment(url, folder).items()))
    return env
