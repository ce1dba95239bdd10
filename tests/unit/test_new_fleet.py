"""`fleet init` and `fleet workflows`: a team's own fleet repository, from the installed package.

These run the `fleet` command as a user does (a subprocess), and check what it wrote the way
the user's CI will: `fleet validate` accepts it, actionlint accepts its workflows."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from ruamel.yaml import YAML

from fleet import new_fleet
from fleet.cli.base import load
from tests.unit.test_workflows import NAMES, actionlint

REPO = Path(__file__).resolve().parents[2]
PINNED_PULUMI = re.search(r"^pulumi==(\S+)", (REPO / "requirements.txt").read_text(), re.M)
assert PINNED_PULUMI
THIS_REPOSITORY = new_fleet.Ci(install="pip install -r requirements.txt && pip install --no-deps .",
                               paths=("manifests/**", "policies/**", "Pulumi.yaml", "__main__.py", "fleet/**",
                                      "requirements.txt", "pyproject.toml"), pulumi_version=PINNED_PULUMI[1])


def fleet(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env=env, timeout=300)


def test_this_repositorys_workflows_are_the_template_filled_in() -> None:
    ci = THIS_REPOSITORY.__class__(**{**THIS_REPOSITORY.__dict__,
                                      "ca_key_variables": new_fleet.key_variables(load(REPO / "manifests"))})
    assert ci.ca_key_variables == ("FLEET_CA_KEY_FACTORY_ROOT",)
    for name in NAMES:
        assert (REPO / ".github/workflows" / name).read_text() == new_fleet.workflow(name, ci), name


def test_init_writes_a_fleet_that_validates_and_whose_workflows_lint(tmp_path: Path) -> None:
    done = fleet("init", "team-fleet", "--account", "prod", "--account-id", "123456789012",
                 "--region", "us-east-1", "--region", "eu-west-1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "team-fleet"
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert written == [".github/workflows/drift.yml", ".github/workflows/main.yml",
                       ".github/workflows/pull-request.yml", ".gitignore", "Pulumi.yaml", "README.md",
                       "__main__.py", "manifests/accounts.yaml", "manifests/cas.yaml", "manifests/devices.yaml",
                       "manifests/pki/example-ca.pem", "manifests/revocations.yaml", "policies/telemetry.json",
                       "requirements.txt", "schema/manifest.schema.json"]
    assert not [p for p in written if "%%" in (root / p).read_text()]  # every hole filled
    assert not [p for p in tmp_path.iterdir() if p.name != "team-fleet"]  # no draft left beside it

    assert YAML(typ="safe").load(root / "Pulumi.yaml")["name"] == "team-fleet"
    assert (root / "__main__.py").read_text().count("\n") <= 6
    pins = [line for line in (root / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    # The SDK fleet's tests ran, whatever pulumi this environment has (FLEET_PULUMI=oldest: 3.79.0).
    assert pins == [f"fleet=={metadata.version('fleet')}", f"pulumi=={PINNED_PULUMI[1]}"]
    installs = [step["with"]["pulumi-version"] for name in NAMES
                for job in YAML(typ="safe").load(root / ".github/workflows" / name)["jobs"].values()
                for step in job["steps"] if str(step.get("uses", "")).startswith("pulumi/actions@")]
    assert installs and set(installs) == {PINNED_PULUMI[1]}  # the CLI of that SDK's version
    assert ".fleet-local/" in (root / ".gitignore").read_text().splitlines()

    checked = fleet("validate", cwd=root)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("manifests: valid: 1 account, 1 CA in 2 placements, "), checked.stdout
    accounts = YAML(typ="safe").load(root / "manifests/accounts.yaml")["accounts"]
    assert accounts == {"prod": {"id": "123456789012", "regions": ["us-east-1", "eu-west-1"],
                                 "deployer_role_arn": "arn:aws:iam::123456789012:role/fleet-deployer"}}

    linted = actionlint(*(str(root / ".github/workflows" / name) for name in NAMES))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    main = (root / ".github/workflows/main.yml").read_text()
    assert "run: pip install -r requirements.txt\n" in main and "fleet/**" not in main


def test_init_refuses_a_folder_that_is_not_empty_and_bad_options_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    done = fleet("init", "taken", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "fleet init: taken is not an empty folder; fleet init writes only into a new one"
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]

    done = fleet("init", "new", "--account", "Prod Account", "--account-id", "12", "--region", "mars-1",
                 cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "fleet init: --account 'Prod Account' is not a name of lowercase letters, digits and '-'; nothing was written",
        "fleet init: --account-id '12' is not a 12-digit AWS account id; nothing was written",
        "fleet init: --region 'mars-1' is not a region such as us-east-1; nothing was written",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert "Traceback" not in done.stderr


def test_the_pulumi_a_new_fleet_pins_is_the_one_this_repository_tests() -> None:
    assert new_fleet.TESTED_PULUMI == PINNED_PULUMI[1]


def test_workflows_install_the_cli_of_the_sdk_the_fleet_pins(tmp_path: Path) -> None:
    assert fleet("init", "team", cwd=tmp_path).returncode == 0
    root = tmp_path / "team"
    requirements = root / "requirements.txt"
    requirements.write_text(requirements.read_text().replace(f"pulumi=={PINNED_PULUMI[1]}\n", "pulumi==3.250.0\n"))
    done = fleet("workflows", cwd=root)
    assert done.returncode == 0, done.stderr
    for name in NAMES:
        text = (root / ".github/workflows" / name).read_text()
        assert "pulumi-version: 3.250.0\n" in text and PINNED_PULUMI[1] not in text, name
    assert new_fleet.pinned_pulumi(tmp_path / "no-such-fleet") == new_fleet.TESTED_PULUMI


def test_workflows_gives_the_apply_job_every_ca_key_the_manifests_name(tmp_path: Path) -> None:
    assert fleet("init", "team", cwd=tmp_path).returncode == 0
    root = tmp_path / "team"
    main = root / ".github/workflows/main.yml"
    assert "secrets.FLEET_CA_KEY" not in main.read_text()
    cas = root / "manifests/cas.yaml"
    cas.write_text(cas.read_text().replace("    mode: SNI_ONLY\n",
                                           "    mode: DEFAULT\n    private_key:\n      env: FLEET_CA_KEY_EXAMPLE\n"))
    done = fleet("workflows", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"wrote {Path('.github/workflows/main.yml')}"]
    text = main.read_text()
    # The validation (which checks the key) and the apply (which uses it) get it; nothing else does.
    assert text.count("          FLEET_CA_KEY_EXAMPLE: ${{ secrets.FLEET_CA_KEY_EXAMPLE }}\n") == 2
    assert "secrets.FLEET_CA_KEY" not in (root / ".github/workflows/pull-request.yml").read_text()
    linted = actionlint(str(main))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    again = fleet("workflows", cwd=root)
    assert again.stdout.strip() == "the workflows were already current" and main.read_text() == text


def test_the_built_package_carries_the_templates_and_its_init_works(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building in place would leave build/ in the checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "tests", "demo", "docs", "tools", "build",
                                                                 "*.egg-info", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, check=False,
                           timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (tmp_path / "dist").glob("fleet-*.whl")
    assert wheel.name.startswith(f"fleet-{metadata.version('fleet')}-")
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    assert (installed / "fleet/templates/project/gitignore").is_file()
    assert (installed / "fleet/templates/workflows/main.yml").is_file()
    # The wheel's fleet, not this checkout's (its dependencies come from the test's environment).
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(installed),
           "HOME": str(tmp_path)}
    where = subprocess.run([sys.executable, "-c", "import fleet; print(fleet.__file__)"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(installed)), where.stdout
    done = fleet("init", "from-wheel", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert fleet("validate", cwd=tmp_path / "from-wheel", env=env).returncode == 0
