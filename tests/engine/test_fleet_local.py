"""`fleet local` as a user runs it, in a fleet `fleet init` made: it serves accounts the
manifests add while it runs, refuses credentials an earlier endpoint issued (as the AWS CLI
would send them from its cache), points out a Pulumi state an earlier endpoint left, and
ends its endpoint whatever ends it. The AWS CLI is not installed here: boto3 reads the same
profiles and, given the CLI's file cache, caches role credentials as the CLI does."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import JSONFileCache
from botocore.exceptions import ClientError

from tests.engine.test_try_locally import start_a_fleet

# Alone, after the tests that run side by side (scripts/test.sh): each signals `fleet local` and waits on it.
pytestmark = pytest.mark.serial

STAGING = """\
  staging:
    id: "222222222222"
    deployer_role_arn: arn:aws:iam::222222222222:role/fleet-deployer
    regions: [us-east-1]
"""


class FleetLocal:
    """`fleet local` running in ``work``, its output read line by line as it comes."""

    def __init__(self, work: Path, environ: dict[str, str], port: int = 0):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleet", "local", "--port", str(port)],
            cwd=work,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait_for(lambda line: line.strip() == "ready")
        self.url = next(
            re.search(r"listens on (http://\S+):", line)[1]  # type: ignore[index]
            for line in self.printed
            if "listens on" in line
        )

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, wanted: Any, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "".join(self.printed)
                continue
            self.printed.append(line)
            if wanted(line):
                return line
        raise AssertionError("not printed in time:\n" + "".join(self.printed))

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def end(self, how: int = signal.SIGTERM) -> int:
        self.process.send_signal(how)
        code = self.process.wait(timeout=120)  # a guard against a hang, not a measure
        self.reader.join(timeout=10)
        while not self.lines.empty():
            self.printed.append(self.lines.get())
        return code


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_", "FLEET_", "GIT_"))}
    return clean | {
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "GIT_AUTHOR_NAME": "team",
        "GIT_COMMITTER_NAME": "team",
        "GIT_AUTHOR_EMAIL": "team@example.com",
        "GIT_COMMITTER_EMAIL": "team@example.com",
    }


@pytest.fixture
def work(tmp_path: Path, environ: dict[str, str]) -> Path:
    return start_a_fleet(tmp_path, environ)


@pytest.fixture
def running(work: Path, environ: dict[str, str]) -> Iterator[FleetLocal]:
    local = FleetLocal(work, environ)
    yield local
    if local.process.poll() is None:
        local.end()


def session(work: Path, profile: str, cache: Path | None = None, config: Path | None = None) -> boto3.Session:
    """What `aws --profile PROFILE` uses after `source .fleet-local/env`: its AWS_CONFIG_FILE, and
    (with ``cache``) the CLI's file cache of role credentials."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", str(config or work / ".fleet-local/aws-config"))
        made = boto3.Session(profile_name=profile)
        if cache is not None:  # as awscli.customizations.assumerole does
            provider = made._session.get_component("credential_provider").get_provider("assume-role")
            provider.cache = JSONFileCache(str(cache))
        made.get_credentials().get_frozen_credentials()  # resolved here, while the config file is this one
    return made


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_account_added_while_it_runs_gets_its_profile_without_a_restart(work: Path, running: FleetLocal) -> None:
    accounts = work / "manifests/accounts.yaml"
    with pytest.raises(Exception, match="staging"):
        session(work, "staging")
    accounts.write_text(accounts.read_text() + "  staging: [not, an, account]\n")
    said = running.wait_for(lambda line: "problems" in line)
    assert said.startswith("the manifests changed and have problems; the AWS CLI profiles stay as they were")
    running.wait_for(lambda line: "accounts.yaml" in line and "staging" in line)  # the problem, at its line

    accounts.write_text(accounts.read_text().replace("  staging: [not, an, account]\n", STAGING))
    said = running.wait_for(lambda line: "accounts changed" in line)
    assert "a profile for prod, staging (new: staging); no restart needed" in said
    staging = session(work, "staging")
    assert staging.client("sts").get_caller_identity()["Account"] == "222222222222"
    assert staging.client("iot").list_ca_certificates()["certificates"] == []


def test_role_credentials_an_earlier_endpoint_issued_are_refused_never_answered_as_another_account(
    work: Path, environ: dict[str, str], tmp_path: Path
) -> None:
    port, cache = free_port(), tmp_path / "aws-cli-cache"
    first = FleetLocal(work, environ, port)
    try:
        earlier = session(work, "prod", cache)
        assert earlier.client("sts").get_caller_identity()["Account"] == "111111111111"
        old_config = tmp_path / "old-aws-config"
        old_config.write_text((work / ".fleet-local/aws-config").read_text())
    finally:
        first.end()
    again = FleetLocal(work, environ, port)  # the same port: the old credentials reach the new endpoint
    try:
        # The profiles as they were: the CLI finds their role credentials in its cache and sends them.
        stale = session(work, "prod", cache, config=old_config)
        with pytest.raises(ClientError) as caught:
            stale.client("iot").list_ca_certificates()
        error = caught.value.response["Error"]
        assert error["Code"] == "UnrecognizedClientException"
        assert "this local endpoint did not issue access key" in error["Message"]
        assert "Run `source .fleet-local/env` again" in error["Message"]
        # The profiles this endpoint wrote ask it for new credentials (their role session is new).
        fresh = session(work, "prod", cache)
        assert fresh.client("sts").get_caller_identity()["Account"] == "111111111111"
        assert fresh.client("iot").list_ca_certificates()["certificates"] == []
    finally:
        again.end()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_ends_it_and_its_endpoint_with_nothing_left_holding_the_port(running: FleetLocal, how: int) -> None:
    assert not port_is_free(running.port)
    assert running.end(how) == 0
    assert running.printed[-1] == "the local endpoint stopped; everything it held is gone\n"
    assert port_is_free(running.port)


@pytest.mark.parametrize("after", [0.5, 1.5, 3.0])
def test_a_signal_while_it_starts_ends_it_without_a_traceback_or_an_endpoint_left(
    work: Path, environ: dict[str, str], after: float
) -> None:
    """Whenever the signal comes (loading the manifests, starting the endpoint, writing the env
    file), `fleet local` ends in words, and nothing is left holding the port. A handler that raised
    came out of the endpoint's start as a traceback, and an exception raised inside the subprocess
    module's own bookkeeping can leave its later waits blocked."""
    port = free_port()
    started = subprocess.Popen(
        [sys.executable, "-m", "fleet", "local", "--port", str(port)],
        cwd=work,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(after)
    started.send_signal(signal.SIGTERM)
    output, _ = started.communicate(timeout=60)
    assert "Traceback" not in output and "Error" not in output, output
    assert started.returncode in (0, -signal.SIGTERM), output  # -SIGTERM: ended before its handlers were set
    deadline = time.monotonic() + 10
    while not port_is_free(port):
        assert time.monotonic() < deadline, "an endpoint outlived the `fleet local` that started it"
        time.sleep(0.2)


def test_killed_outright_its_endpoint_ends_too(running: FleetLocal) -> None:
    running.end(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not port_is_free(running.port):
        assert time.monotonic() < deadline, "the endpoint outlived the `fleet local` that started it"
        time.sleep(0.2)


@pytest.mark.engine
def test_a_state_an_earlier_endpoint_left_is_pointed_out_and_what_it_says_to_run_works(
    work: Path, environ: dict[str, str]
) -> None:
    def shell(*commands: str) -> None:
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\nsource .fleet-local/env\n" + "\n".join(commands)],
            cwd=work,
            env=environ,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    first = FleetLocal(work, environ)
    try:
        assert not any("earlier endpoint" in line for line in first.printed)
        shell("pulumi stack select --create local", "pulumi up --yes")
    finally:
        first.end()
    again = FleetLocal(work, environ)
    try:
        [notice] = [line for line in again.printed if "earlier endpoint" in line]
        assert notice.startswith(".fleet-local/state holds the state of an earlier endpoint: ")
        assert re.search(r"endpoint: \S*local \(\d+ resources\)\.", notice), notice
        [command] = re.findall(r"Run `([^`]+)` once", notice)
        shell(command)
        cas = session(work, "prod").client("iot").list_ca_certificates()["certificates"]
        assert [c["status"] for c in cas] == ["ACTIVE"]  # the example CA, registered again
    finally:
        again.end()
