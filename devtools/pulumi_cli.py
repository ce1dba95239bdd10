"""Drive the real Pulumi CLI on a fleet project, with a local file backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PULUMI_BIN = REPO / ".cache" / "pulumi" / "bin"
VENV = REPO / ".cache" / "venv"
PASSPHRASE = "fleet-local-state-passphrase"


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
        path = os.environ.get("PATH", "")
        if shutil.which("pulumi") is None or (PULUMI_BIN / "pulumi").exists():
            path = f"{PULUMI_BIN}:{path}"
        return {
            **os.environ,
            "PATH": path,
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
            cwd=self.workdir, env=self.env(), capture_output=True, text=True, check=True,
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
