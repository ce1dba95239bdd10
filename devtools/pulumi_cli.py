"""Drive the real Pulumi CLI on a fleet project, with a local file backend.

The toolchain is the one scripts/bootstrap.sh put on PATH (FLEET_PULUMI:
current or oldest); ``ENGINE`` says how that engine's exit codes read, the one
place where the supported Pulumi versions differ for the tests and the demo.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# The virtualenv of the toolchain in use (scripts/bootstrap.sh exports it).
VENV = Path(os.environ.get("FLEET_VENV") or REPO / ".cache" / "venv")
PASSPHRASE = "fleet-local-state-passphrase"


@dataclass(frozen=True)
class Engine:
    """The Pulumi engine on PATH, and what its exit codes mean.

    Pulumi 3.226.0 introduced an exit-code taxonomy (sdk/go/common/util/cmdutil/exit.go):
    `preview --expect-no-changes` exits 7 on changes and a failed program or
    resource exits 1. Older engines (3.79) exit 255 for both."""

    version: tuple[int, ...]

    @property
    def taxonomy(self) -> bool:
        return self.version >= (3, 226, 0)

    @property
    def changes(self) -> int:
        """Exit code of `preview --expect-no-changes` when changes are proposed."""
        return 7 if self.taxonomy else 255

    @property
    def failed(self) -> int:
        """Exit code when the program or a resource fails (a refusal, an AWS error)."""
        return 1 if self.taxonomy else 255

    @property
    def names_drifted_keys(self) -> bool:
        """Whether `preview --refresh --diff` names the key that drifted: the Python SDK lets a
        dynamic provider's read return inputs since 3.216.0 (each toolchain pairs SDK and engine)."""
        return self.version >= (3, 216, 0)

    @property
    def changes_proposed(self) -> str:
        """What `preview --expect-no-changes` says when it finds changes."""
        return (
            "no changes were expected for preview but changes were proposed"
            if self.taxonomy
            else "no changes were expected but changes were proposed"
        )

    @property
    def label(self) -> str:
        return "v" + ".".join(map(str, self.version))


@functools.cache
def engine() -> Engine:
    text = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=True).stdout
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", text.strip())
    if found is None:
        raise RuntimeError(f"`pulumi version` printed {text!r}")
    return Engine(tuple(int(part) for part in found.groups()))


class _EngineOnPath:
    """``ENGINE.changes`` and the like, asking `pulumi version` on first use only."""

    def __getattr__(self, name: str) -> Any:
        return getattr(engine(), name)


ENGINE: Any = _EngineOnPath()

# The pulumi SDK of the toolchain (the venv these tests and the provider run in).
SDK = tuple(int(part) for part in metadata.version("pulumi").split(".")[:3])


def provider_failure(output: str, fragment: str) -> str:
    """The line of a provider's failure that holds ``fragment``, as this SDK prints one: SDKs up to
    3.259 in gRPC's words ("Exception calling application: <sentence>"), from 3.260 as the provider's
    Python traceback, whose last line is "fleet.ProviderFailure: <sentence>" (fleet.providers.failures)."""
    prefix = "fleet.ProviderFailure: " if SDK >= (3, 260, 0) else "error: Exception calling application: "
    lines = [line.strip() for line in output.splitlines() if fragment in line]
    printed = [line for line in lines if line.startswith(prefix)]
    assert printed, f"no line starting {prefix!r} holds {fragment!r}:\n{output}"
    return printed[0]


@dataclass(frozen=True)
class Result:
    command: str
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class PulumiProject:
    """A fleet Pulumi project directory with one stack on a file backend."""

    workdir: Path
    backend: Path
    stack: str = "test"
    extra_env: dict[str, str] = field(default_factory=dict)
    history: list[Result] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PULUMI_BACKEND_URL": self.backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "1",
            "PULUMI_HOME": str(self.backend / ".pulumi-home"),
            **self.extra_env,
        }

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> Result:
        command = ["pulumi", *args, "--stack", self.stack, "--non-interactive"]
        done = subprocess.run(
            command, cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=900, check=False
        )
        result = Result(" ".join(command), done.returncode, done.stdout, done.stderr)
        self.history.append(result)
        if result.code not in ok:
            raise AssertionError(f"{result.command} exited {result.code}:\n{result.output}")
        return result

    def init(self, manifests: Path) -> PulumiProject:
        self.backend.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["pulumi", "stack", "select", "--create", self.stack, "--non-interactive"],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        self.run("config", "set", "manifests", str(manifests))
        return self

    def up(self, *args: str, ok: tuple[int, ...] = (0,)) -> Result:
        return self.run("up", "--yes", "--skip-preview", *args, ok=ok)

    def preview(self, *args: str, ok: tuple[int, ...] = (0,)) -> Result:
        return self.run("preview", "--diff", *args, ok=ok)

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.run("stack", "export").stdout))

    def state_text(self) -> str:
        """The raw state file of the stack, as the file backend stores it."""
        files = list((self.backend / ".pulumi" / "stacks").rglob(f"{self.stack}.json"))
        return "".join(p.read_text() for p in files)


def scratch_project(workdir: Path, backend: Path, stack: str = "test", **env: str) -> PulumiProject:
    """A copy of this repository's Pulumi project in ``workdir``, using the repo's venv."""
    workdir.mkdir(parents=True, exist_ok=True)
    project = (REPO / "Pulumi.yaml").read_text().replace("virtualenv: .cache/venv", f"virtualenv: {VENV}")
    (workdir / "Pulumi.yaml").write_text(project)
    shutil.copy(REPO / "__main__.py", workdir / "__main__.py")
    return PulumiProject(workdir=workdir, backend=backend, stack=stack, extra_env=dict(env))
