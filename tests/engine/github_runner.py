"""A stand-in for a GitHub-hosted runner: the workflows `fleet init` writes, run as they are written.

GitHub cannot be reached from here, so this does on this machine what a runner
does with a workflow: each job, once per combination of its matrix, its steps
in order, in a workspace of its own.

- A `run:` step runs its script, with `${{ ... }}` substituted, as `shell: bash`
  does (`bash --noprofile --norc -eo pipefail FILE`), in GITHUB_WORKSPACE, with
  the workflow's, the job's and the step's `env:` and what a runner sets
  (GITHUB_BASE_REF, GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY, GITHUB_ENV, ...).
- A `uses:` step is stood in for by what its action does (``Runner.actions``):
  actions/checkout clones the origin at the fetch depth it asks for, every
  branch as a remote-tracking ref when it asks for the whole history, and checks
  out the event's ref; actions/setup-python is the test's virtualenv; pulumi/actions
  is the Pulumi CLI on PATH, which must be the version asked for;
  aws-actions/configure-aws-credentials assumes the role it names through the
  local endpoint's STS and exports the credentials; actions/upload-artifact
  copies the file aside; github/codeql-action/upload-sarif checks the SARIF
  against the 2.1.0 schema and keeps it by category. An action or an input
  without a stand-in fails the run.
- `if:` and every `${{ ... }}` (in `env:`, `with:`, `run:`, the matrix and the
  concurrency group) are evaluated from what GitHub would give
  (``Runner.table``: vars, secrets, github.*, matrix.*, steps.*.outputs, env.*);
  what the table does not hold fails the run (github_expressions.Unevaluable).
- An event runs a workflow only when its `on:` says so: a push to a branch its
  `branches:` does not list raises NotTriggered.

The one thing no GitHub runner has: FLEET_AWS_ENDPOINT_URL, pointing fleet at
the local endpoint, in the runner's own environment (``Runner.environment``).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jsonschema
from ruamel.yaml import YAML

from tests.engine.github_expressions import Evaluator, Unevaluable, condition, functions, substitute, truthy

SARIF_SCHEMA = json.loads((Path(__file__).parents[2] / "schema" / "sarif-2.1.0.json").read_text())

REPOSITORY = "acme/iot-fleet"


class NotTriggered(AssertionError):
    """The event does not run the workflow."""


@dataclass(frozen=True)
class Event:
    """What triggered a run: a pull request (its merge ref), a push, a schedule."""

    name: str  # pull_request, push, schedule
    ref: str  # refs/pull/1/merge, refs/heads/trunk
    sha: str
    base_ref: str = ""
    head_ref: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/")


@dataclass
class Step:
    name: str
    outcome: str  # success, failure, skipped
    output: str = ""


@dataclass
class Job:
    workflow: str
    name: str
    matrix: dict[str, Any]
    workspace: Path
    steps: list[Step] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(step.outcome == "failure" for step in self.steps)

    def step(self, name: str) -> Step:
        [found] = [s for s in self.steps if s.name == name]
        return found

    def log(self) -> str:
        return "\n".join(
            f"--- {self.workflow} {self.name} {self.matrix}: {s.name}: {s.outcome}\n{s.output}" for s in self.steps
        )


@dataclass
class Runner:
    """Runs workflows of the repository at ``origin`` (a bare repository, as GitHub holds it)."""

    origin: Path
    scratch: Path
    environment: dict[str, str]  # the runner's own: PATH, HOME, ... and FLEET_AWS_ENDPOINT_URL
    vars: dict[str, str]
    secrets: dict[str, str]
    endpoint: str  # the local endpoint, whose STS the credentials action calls
    base_credentials: dict[str, str]  # what the runner's OIDC token would be exchanged with
    runs: int = 0

    def run(self, workflow: Path, event: Event) -> list[Job]:
        spec = YAML(typ="safe").load(workflow)  # YAML 1.2: the key `on` stays "on"
        self._check_trigger(spec["on"], event)
        jobs = []
        for job_name, job in spec["jobs"].items():
            if "needs" in job or "continue-on-error" in job or "services" in job or "container" in job:
                raise Unevaluable(
                    f"{workflow.name}: job {job_name}: this runner has no stand-in for "
                    f"{sorted(set(job) & {'needs', 'continue-on-error', 'services', 'container'})}"
                )
            for combination in self._matrix(spec, job, event):
                jobs.append(self._job(workflow.name, spec, job_name, job, combination, event))
        return jobs

    def _check_trigger(self, on: Any, event: Event) -> None:
        triggers = on if isinstance(on, dict) else {name: None for name in ([on] if isinstance(on, str) else on)}
        if event.name not in triggers:
            raise NotTriggered(f"{event.name} is not among {sorted(triggers)}")
        branches = (triggers[event.name] or {}).get("branches") if event.name in ("push", "pull_request") else None
        target = event.base_ref if event.name == "pull_request" else event.branch
        if branches is not None and target not in branches:  # the names fleet writes are plain, not patterns
            raise NotTriggered(f"a {event.name} to {target!r} does not run it: branches: {branches}")

    def _matrix(self, spec: dict[str, Any], job: dict[str, Any], event: Event) -> list[dict[str, Any]]:
        matrix = (job.get("strategy") or {}).get("matrix")
        if matrix is None:
            return [{}]
        evaluated = substitute(matrix, Evaluator(self.table(event, {}, {}, {}), functions(self.scratch, {})))
        if (
            not isinstance(evaluated, dict)
            or {"include", "exclude"} & set(evaluated)
            or not all(isinstance(values, list) and values for values in evaluated.values())
        ):
            raise Unevaluable(f"a matrix this runner does not expand: {evaluated!r}")
        names = sorted(evaluated)
        return [dict(zip(names, values, strict=True)) for values in itertools.product(*(evaluated[n] for n in names))]

    def table(self, event: Event, matrix: dict[str, Any], env: dict[str, str], steps: dict[str, Any]) -> dict[str, Any]:
        """What GitHub gives a job's expressions."""
        github = {
            "event_name": event.name,
            "ref": event.ref,
            "ref_name": event.branch if event.name != "pull_request" else event.ref.removeprefix("refs/"),
            "sha": event.sha,
            "base_ref": event.base_ref,
            "head_ref": event.head_ref,
            "repository": REPOSITORY,
            "token": "ghs_stand-in-token",
            "workspace": "",
            "event": event.payload,
        }
        return {
            "github": github,
            "vars": self.vars,
            "secrets": self.secrets,
            "matrix": matrix,
            "env": env,
            "steps": steps,
            "runner": {"os": "Linux", "temp": str(self.scratch)},
        }

    def _job(
        self, workflow: str, spec: dict[str, Any], name: str, job: dict[str, Any], matrix: dict[str, Any], event: Event
    ) -> Job:
        self.runs += 1
        home = self.scratch / f"run-{self.runs}"
        workspace = home / "work" / REPOSITORY.split("/")[1]
        workspace.mkdir(parents=True)
        files = {
            n: home / f"{n.lower()}.txt" for n in ("GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
        }
        for path in files.values():
            path.touch()
        runner_env = {
            **self.environment,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": event.name,
            "GITHUB_REF": event.ref,
            "GITHUB_SHA": event.sha,
            "GITHUB_BASE_REF": event.base_ref,
            "GITHUB_HEAD_REF": event.head_ref,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_JOB": name,
            "RUNNER_TEMP": str(home),
            **{n: str(p) for n, p in files.items()},
        }
        status = {"success": True, "failure": False, "cancelled": False, "always": True}
        outputs: dict[str, Any] = {}
        result = Job(workflow, name, matrix, workspace)

        def evaluator(env: dict[str, str]) -> Evaluator:
            context = self.table(event, matrix, env, outputs)
            context["github"] = {**context["github"], "workspace": str(workspace)}
            return Evaluator(context, functions(workspace, status))

        declared = {k: str(v) for k, v in substitute(spec.get("env") or {}, evaluator({})).items()}
        substitute(spec.get("concurrency") or {}, evaluator(declared))
        declared |= {k: str(v) for k, v in substitute(job.get("env") or {}, evaluator(declared)).items()}
        shell = ((spec.get("defaults") or {}).get("run") or {}).get("shell")
        if shell != "bash":
            raise Unevaluable(f"{workflow}: only `shell: bash` is stood in for, not {shell!r}")
        if "if" in job and not condition(job["if"], evaluator(declared)):
            return result
        for number, step in enumerate(job["steps"]):
            label = step.get("name") or step.get("uses") or f"step {number}"
            exported = _exports(files["GITHUB_ENV"])
            step_env = {**declared, **exported}
            step_env |= {k: str(v) for k, v in substitute(step.get("env") or {}, evaluator(step_env)).items()}
            if not condition(step.get("if", "success()"), evaluator(step_env)):
                result.steps.append(Step(label, "skipped"))
                continue
            path = [line for line in files["GITHUB_PATH"].read_text().splitlines() if line]
            env = {**runner_env, **step_env, "PATH": ":".join([*reversed(path), runner_env["PATH"]])}
            if "uses" in step:
                inputs = substitute(step.get("with") or {}, evaluator(step_env))
                outcome, output = self._action(str(step["uses"]), inputs, event, workspace, env, files)
            else:
                script = substitute(str(step["run"]), evaluator(step_env))
                outcome, output = _bash(
                    script, workspace, env, home / f"step-{number}.sh", int(job.get("timeout-minutes", 360)) * 60
                )
            result.steps.append(Step(label, outcome, output))
            if "id" in step:
                outputs[str(step["id"])] = {"outputs": _exports(files["GITHUB_OUTPUT"]), "outcome": outcome}
            # continue-on-error: the step fails, the job goes on as if it had not (GitHub's "outcome" and
            # "conclusion").
            if outcome == "failure" and not truthy(
                substitute(step.get("continue-on-error", False), evaluator(step_env))
            ):
                status.update(success=False, failure=True)
        return result

    def _action(
        self,
        uses: str,
        inputs: dict[str, Any],
        event: Event,
        workspace: Path,
        env: dict[str, str],
        files: dict[str, Path],
    ) -> tuple[str, str]:
        action = uses.split("@", 1)[0]
        stand_in = {
            "actions/checkout": self._checkout,
            "actions/setup-python": self._setup_python,
            "pulumi/actions": self._pulumi,
            "aws-actions/configure-aws-credentials": self._credentials,
            "actions/upload-artifact": self._upload,
            "github/codeql-action/upload-sarif": self._upload_sarif,
        }.get(action)
        if stand_in is None:
            raise Unevaluable(f"no stand-in for the action {uses}")
        return stand_in(inputs, event, workspace, env, files)

    def _checkout(
        self, inputs: dict[str, Any], event: Event, workspace: Path, env: dict[str, str], files: dict[str, Path]
    ) -> tuple[str, str]:
        _known(inputs, {"fetch-depth"})
        depth = int(inputs.get("fetch-depth", 1))
        url = self.origin.as_uri()  # a file:// URL: git honours a depth there, as over the network
        commands = [["init", "-q"], ["remote", "add", "origin", url]]
        if depth == 0:  # what actions/checkout fetches for the whole history: every branch and tag
            commands.append(
                ["fetch", "-q", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
            )
        target = (
            f"refs/remotes/pull/{event.ref.split('/')[2]}/merge"
            if event.name == "pull_request"
            else f"refs/remotes/origin/{event.branch}"
        )
        commands.append(
            ["fetch", "-q", *([] if depth == 0 else [f"--depth={depth}"]), "origin", f"+{event.ref}:{target}"]
        )
        commands.append(
            ["checkout", "-q", "--detach", target]
            if event.name == "pull_request"
            else ["checkout", "-q", "-B", event.branch, target]
        )
        output = []
        for command in commands:
            done = subprocess.run(
                ["git", *command], cwd=workspace, capture_output=True, text=True, check=False, env=env
            )
            output.append(done.stdout + done.stderr)
            if done.returncode != 0:
                return "failure", "".join(output)
        return "success", "".join(output)

    def _setup_python(
        self, inputs: dict[str, Any], event: Event, workspace: Path, env: dict[str, str], files: dict[str, Path]
    ) -> tuple[str, str]:
        _known(inputs, {"python-version", "cache"})
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if str(inputs.get("python-version")) != here:
            return "failure", f"this runner has Python {here}, not {inputs.get('python-version')}"
        with files["GITHUB_PATH"].open("a") as stream:
            stream.write(f"{Path(sys.executable).parent}\n")
        return "success", ""

    def _pulumi(
        self, inputs: dict[str, Any], event: Event, workspace: Path, env: dict[str, str], files: dict[str, Path]
    ) -> tuple[str, str]:
        _known(inputs, {"pulumi-version"})
        done = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=False, env=env)
        wanted, here = str(inputs.get("pulumi-version")), done.stdout.strip()
        # GitHub's action installs exactly the version asked; this machine's toolchain may stand in the nearest
        # engine the Go module proxy serves for the SDK's own (scripts/toolchain.sh): that one, and no other.
        substitute = os.environ.get("PULUMI_VERSION") if wanted == os.environ.get("PULUMI_SDK_VERSION") else None
        if here not in (f"v{wanted}", f"v{substitute}"):
            return "failure", f"the Pulumi CLI here is {here}, not {wanted}"
        return "success", done.stdout

    def _credentials(
        self, inputs: dict[str, Any], event: Event, workspace: Path, env: dict[str, str], files: dict[str, Path]
    ) -> tuple[str, str]:
        _known(inputs, {"role-to-assume", "aws-region"})
        role, region = str(inputs.get("role-to-assume") or ""), str(inputs.get("aws-region") or "")
        if not role.startswith("arn:aws:iam::") or not region:
            return "failure", f"role-to-assume {role!r} and aws-region {region!r} are needed"
        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=self.base_credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.base_credentials["AWS_SECRET_ACCESS_KEY"],
        )
        got = sts.assume_role(RoleArn=role, RoleSessionName="GitHubActions")["Credentials"]
        with files["GITHUB_ENV"].open("a") as stream:
            stream.write(
                f"AWS_ACCESS_KEY_ID={got['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={got['SecretAccessKey']}\n"
                f"AWS_SESSION_TOKEN={got['SessionToken']}\nAWS_REGION={region}\n"
                f"AWS_DEFAULT_REGION={region}\n"
            )
        return "success", f"assumed {role}"

    def _upload(
        self, inputs: dict[str, Any], event: Event, workspace: Path, env: dict[str, str], files: dict[str, Path]
    ) -> tuple[str, str]:
        _known(inputs, {"name", "path"})
        source = workspace / str(inputs["path"])
        if not source.is_file():  # the action's default (if-no-files-found: warn) goes on
            return "success", f"warning: no file {inputs['path']}"
        target = self.scratch / "artifacts" / str(inputs["name"])
        target.mkdir(parents=True)
        shutil.copy(source, target / source.name)
        return "success", f"uploaded {source.name} as {inputs['name']}"

    def _upload_sarif(
        self, inputs: dict[str, Any], event: Event, workspace: Path, env: dict[str, str], files: dict[str, Path]
    ) -> tuple[str, str]:
        """Code scanning takes only SARIF 2.1.0 that holds to its schema; kept aside by category."""
        _known(inputs, {"sarif_file", "category"})
        source = workspace / str(inputs["sarif_file"])
        document = json.loads(source.read_text())
        problems = [e.message for e in jsonschema.Draft7Validator(SARIF_SCHEMA).iter_errors(document)]
        if problems:
            return "failure", f"{source.name} is not SARIF 2.1.0: {problems[:3]}"
        target = self.scratch / "code-scanning" / f"{inputs.get('category') or 'default'}.sarif"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return "success", f"uploaded {source.name} to code scanning"

    def code_scanning(self, category: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.scratch / "code-scanning" / f"{category}.sarif").read_text())
        return document

    def artifact(self, name: str) -> Path:
        [found] = (self.scratch / "artifacts" / name).iterdir()
        return found


def _known(inputs: dict[str, Any], known: set[str]) -> None:
    if set(inputs) - known:
        raise Unevaluable(f"no stand-in for the inputs {sorted(set(inputs) - known)}")


def _exports(path: Path) -> dict[str, str]:
    """NAME=value lines and NAME<<DELIMITER blocks, as GITHUB_ENV and GITHUB_OUTPUT hold them."""
    found: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            found[name] = "\n".join(itertools.takewhile(lambda text, end=delimiter: text != end, lines))
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def _bash(script: str, cwd: Path, env: dict[str, str], file: Path, seconds: int) -> tuple[str, str]:
    """A `run:` step under `shell: bash`: GitHub runs `bash --noprofile --norc -eo pipefail {0}`."""
    file.write_text(script)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds,
    )
    output = f"exit {done.returncode}\n{done.stdout}{done.stderr}"
    file.with_suffix(".log").write_text(output)  # beside the script, for whoever reads a failed run
    return ("success" if done.returncode == 0 else "failure"), output


def comments(store: Path) -> list[dict[str, Any]]:
    """The pull request's comments the gh stand-in holds."""
    return list(json.loads(store.read_text())["comments"]) if store.exists() else []
