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
  It is written again when the manifests' accounts change.

Everything the endpoint holds lives in its memory and ends with it. So that
nothing of an ended endpoint is mistaken for this one's: the endpoint refuses
credentials it did not issue (localaws.credentials); each endpoint's profiles
name a role session of their own, so the AWS CLI never reuses role
credentials it cached from an earlier endpoint (its cache key includes the
session name); a Pulumi state left under ``state`` is pointed out
(``stale_state``); and the endpoint ends with the process that started it
(it watches its standard input, which only that process holds).
"""

from __future__ import annotations

import gzip
import json
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from fleet import DISTRIBUTION

# Accepted by the local endpoint only; never valid anywhere else.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localaws-access-key", "AWS_SECRET_ACCESS_KEY": "localaws-secret-key"}
PASSPHRASE = "fleet-local-only"  # noqa: S105 (local state only; fleet keeps no secret in its state)
REGION = "us-east-1"
STOP_SECONDS = 10


class LocalUnavailable(Exception):
    """The local endpoint could not start."""


def start(port: int, folder: Path) -> tuple[subprocess.Popen[str], str]:
    """The endpoint's process and its URL, once it accepts requests."""
    try:
        import moto  # noqa: F401 (only to say what is missing)
    except ImportError:
        raise LocalUnavailable(
            f"the local endpoint needs moto: install fleet with its `local` extra (pip install '{DISTRIBUTION}[local]')"
        ) from None
    hint = (
        f"Run `source {folder / 'env'}` again: it holds what this endpoint accepts (the AWS CLI's profiles "
        "ask it for new role credentials)"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localaws",
            "--port",
            str(port),
            "--exit-with-stdin",
            "--accept-access-key",
            CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "--refusal-hint",
            hint,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on " not in line:
        stop(process)
        raise LocalUnavailable(f"the local endpoint did not start (port {port} in use?): {line.strip()!r}")
    return process, line.rsplit(" ", 1)[1].strip()


def stop(process: subprocess.Popen[str]) -> None:
    """Ends the endpoint and waits until it has: nothing holds its port after this."""
    if process.stdin is not None:
        process.stdin.close()  # the endpoint ends by itself at the end of its input
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def session_name() -> str:
    """A role session name of this endpoint's own (the AWS CLI's role credential cache is keyed by it)."""
    return f"fleet-local-{secrets.token_hex(4)}"


def environment(url: str, folder: Path) -> dict[str, str]:
    folder = folder.resolve()
    return {
        **CREDENTIALS,
        "FLEET_AWS_ENDPOINT_URL": url,
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(folder / "aws-config"),
        "PULUMI_BACKEND_URL": (folder / "state").as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
    }


def aws_config(url: str, accounts: list[tuple[str, str]], session: str) -> str:
    """A profile ``local`` with the endpoint's credentials, and one per (account name, deployer role)."""
    lines = [
        "[profile local]",
        f"aws_access_key_id = {CREDENTIALS['AWS_ACCESS_KEY_ID']}",
        f"aws_secret_access_key = {CREDENTIALS['AWS_SECRET_ACCESS_KEY']}",
        f"region = {REGION}",
        f"endpoint_url = {url}",
        "",
    ]
    for name, role_arn in accounts:
        lines += [
            f"[profile {name}]",
            f"role_arn = {role_arn}",
            f"role_session_name = {session}",
            "source_profile = local",
            f"region = {REGION}",
            f"endpoint_url = {url}",
            "",
        ]
    return "\n".join(lines)


def write(folder: Path, url: str, accounts: list[tuple[str, str]], session: str) -> Path:
    """Writes ``env`` and ``aws-config`` into ``folder``; returns the env file."""
    (folder / "state").mkdir(parents=True, exist_ok=True)
    write_profiles(folder, url, accounts, session)
    env = folder / "env"
    env.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in environment(url, folder).items()))
    return env


def write_profiles(folder: Path, url: str, accounts: list[tuple[str, str]], session: str) -> None:
    """``aws-config``, replaced whole (a reader never sees half of it)."""
    target = folder / "aws-config"
    draft = target.with_name(".aws-config.new")
    draft.write_text(aws_config(url, accounts, session))
    draft.replace(target)


def stale_state(folder: Path) -> dict[str, int]:
    """Stacks under ``folder/state`` that hold resources, and how many: a state an earlier
    endpoint's run left (a new endpoint holds nothing)."""
    found: dict[str, int] = {}
    stacks = folder / "state" / ".pulumi" / "stacks"
    for path in sorted([*stacks.rglob("*.json"), *stacks.rglob("*.json.gz")]):
        try:
            raw = path.read_bytes()
            document = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
            resources = document["checkpoint"]["latest"]["resources"] or []
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a state file this reads: nothing to say about it
        held = [
            r
            for r in resources
            if isinstance(r, dict)
            and r.get("type") != "pulumi:pulumi:Stack"
            and not str(r.get("type", "")).startswith("pulumi:providers:")
        ]
        if held:
            name = path.name.removesuffix(".gz").removesuffix(".json")
            found[name if path.parent == stacks else f"{path.parent.name}/{name}"] = len(held)
    return found


def manifests_stamp(manifests: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when a manifest is saved (each file's path, size and modification time)."""
    stamps = []
    for path in sorted(manifests.rglob("*.yaml")):
        try:
            status = path.stat()
        except OSError:
            continue
        stamps.append((str(path), status.st_size, status.st_mtime_ns))
    return tuple(stamps)
