"""`fleet init` and `fleet workflows`: a team's own fleet repository, from the installed package.

These run the `fleet` command as a user does (a subprocess), and check what it wrote the way
the user's CI will: `fleet validate` accepts it, actionlint accepts its workflows."""

from __future__ import annotations

import compileall
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from fleet import DISTRIBUTION
from fleet.cli.base import load
from fleet.scaffold import new_fleet
from tests import wheel
from tests.unit.test_workflows import NAMES, actionlint

REPO = Path(__file__).resolve().parents[2]
PINNED_PULUMI = re.search(r"^pulumi==(\S+)", (REPO / "requirements.txt").read_text(), re.M)
assert PINNED_PULUMI
THIS_REPOSITORY = new_fleet.Ci(
    install="pip install -r requirements.txt && pip install --no-deps .",
    paths=(
        "manifests/**",
        "policies/**",
        "Pulumi.yaml",
        "__main__.py",
        "fleet/**",
        "requirements.txt",
        "pyproject.toml",
    ),
    pulumi_version=PINNED_PULUMI[1],
)


def fleet(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )


def test_this_repositorys_workflows_are_the_template_filled_in() -> None:
    ci = THIS_REPOSITORY.__class__(
        **{**THIS_REPOSITORY.__dict__, "ca_key_variables": new_fleet.key_variables(load(REPO / "manifests"))}
    )
    assert ci.ca_key_variables == ("FLEET_CA_KEY_FACTORY_ROOT",)
    for name in NAMES:
        assert (REPO / ".github/workflows" / name).read_text() == new_fleet.workflow(name, ci), name


def test_init_writes_a_fleet_that_validates_and_whose_workflows_lint(tmp_path: Path) -> None:
    done = fleet(
        "init",
        "team-fleet",
        "--account",
        "prod",
        "--account-id",
        "123456789012",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    root = tmp_path / "team-fleet"
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert written == [
        ".github/workflows/drift.yml",
        ".github/workflows/main.yml",
        ".github/workflows/pull-request.yml",
        ".gitignore",
        "Pulumi.yaml",
        "README.md",
        "__main__.py",
        "manifests/accounts.yaml",
        "manifests/cas.yaml",
        "manifests/devices.yaml",
        "manifests/pki/example-ca.pem",
        "manifests/revocations.yaml",
        "policies/telemetry.json",
        "requirements.txt",
        "schema/manifest.schema.json",
    ]
    assert not [p for p in written if "%%" in (root / p).read_text()]  # every hole filled
    assert not [p for p in tmp_path.iterdir() if p.name != "team-fleet"]  # no draft left beside it

    assert YAML(typ="safe").load(root / "Pulumi.yaml")["name"] == "team-fleet"
    assert (root / "__main__.py").read_text().count("\n") <= 6
    pins = [line for line in (root / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    # The SDK fleet's tests ran, whatever pulumi this environment has (FLEET_PULUMI=oldest: 3.79.0).
    assert pins == [f"{wheel.DISTRIBUTION}=={wheel.VERSION}", f"pulumi=={PINNED_PULUMI[1]}"]
    installs = [
        step["with"]["pulumi-version"]
        for name in NAMES
        for job in YAML(typ="safe").load(root / ".github/workflows" / name)["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]
    assert installs and set(installs) == {PINNED_PULUMI[1]}  # the CLI of that SDK's version
    assert ".fleet-local/" in (root / ".gitignore").read_text().splitlines()

    checked = fleet("validate", cwd=root)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("manifests: valid: 1 account, 1 CA in 2 placements, "), checked.stdout
    accounts = YAML(typ="safe").load(root / "manifests/accounts.yaml")["accounts"]
    assert accounts == {
        "prod": {
            "id": "123456789012",
            "regions": ["us-east-1", "eu-west-1"],
            "deployer_role_arn": "arn:aws:iam::123456789012:role/fleet-deployer",
        }
    }

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

    done = fleet("init", "new", "--account", "Prod Account", "--account-id", "12", "--region", "mars-1", cwd=tmp_path)
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
    cas.write_text(
        cas.read_text().replace(
            "    mode: SNI_ONLY\n", "    mode: DEFAULT\n    private_key:\n      env: FLEET_CA_KEY_EXAMPLE\n"
        )
    )
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


def test_init_copies_the_templates_as_the_files_they_are_and_never_a_byte_compiled_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(new_fleet.TEMPLATES, templates, ignore=shutil.ignore_patterns("__pycache__"))
    assert compileall.compile_dir(templates, quiet=1)  # what pip does to the installed templates
    not_text = bytes(range(256))  # no UTF-8: a file to copy byte for byte
    (templates / "project/policies/icon.bin").write_bytes(not_text)
    monkeypatch.setattr(new_fleet, "TEMPLATES", templates)

    written = new_fleet.init(tmp_path / "team", new_fleet.Start(name="team"), "{}")
    assert not [p for p in written if "__pycache__" in p.parts or p.suffix == ".pyc"], written
    root = tmp_path / "team"
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
    assert (root / "policies/icon.bin").read_bytes() == not_text
    assert (root / "__main__.py").read_bytes() == (templates / "project/__main__.py").read_bytes()
    assert (root / "Pulumi.yaml").read_text().startswith("name: team\n")  # text still has its holes filled


def test_the_wheel_carries_the_templates_without_byte_compiled_files_and_init_works_once_pip_installed_it(
    tmp_path: Path,
) -> None:
    source = wheel.source(tmp_path / "source")
    assert compileall.compile_dir(source / "fleet/templates", quiet=1)  # a checkout whose template ran once
    built = wheel.build(source, tmp_path / "dist")
    assert built.name.startswith(f"{wheel.DISTRIBUTION.replace('-', '_')}-{wheel.VERSION}-")
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
    assert {
        "fleet/templates/project/gitignore",
        "fleet/templates/project/__main__.py",
        "fleet/templates/workflows/main.yml",
    } <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]

    # Installed by pip (which byte-compiles what it installs, the templates' __main__.py too); its
    # dependencies come from the test's environment.
    installed = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, *wheel.PIP, "install", "--quiet", "--no-deps", "--target", str(installed), str(built)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list((installed / "fleet/templates/project/__pycache__").glob("__main__.*.pyc"))
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(installed),
        "HOME": str(tmp_path),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import fleet; print(fleet.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed)), where.stdout
    done = fleet("init", "from-wheel", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "from-wheel"
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
    assert fleet("validate", cwd=root, env=env).returncode == 0
    version = fleet("--version", cwd=root, env=env)
    assert version.stdout.startswith(f"fleet {wheel.VERSION} (pulumi SDK "), version.stdout + version.stderr


def test_the_distribution_is_named_alike_wherever_fleet_names_it() -> None:
    """pip knows fleet by the name pyproject.toml declares: `fleet init`'s requirements.txt pins it
    (test_init_writes_a_fleet_that_validates_and_whose_workflows_lint), `fleet --version` looks it up."""
    assert DISTRIBUTION == wheel.DISTRIBUTION == "fleet-iot"
    assert metadata.version(DISTRIBUTION) == wheel.VERSION  # the installed fleet is this checkout's
    [readme_pin] = re.findall(r"^pip install '(\S+)\[local\]==(\S+)'$", (REPO / "README.md").read_text(), re.M)
    assert readme_pin == (wheel.DISTRIBUTION, wheel.VERSION)


def apply_branches(root: Path) -> object:
    return YAML(typ="safe").load(root / ".github/workflows/main.yml")["on"]["push"]["branches"]


def test_the_apply_runs_on_the_default_branch_init_was_given_and_its_printed_commands_make(tmp_path: Path) -> None:
    done = fleet("init", "team", "--account", "prod", "--default-branch", "trunk", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "team"
    assert apply_branches(root) == ["trunk"]
    assert "apply on trunk" in (root / "README.md").read_text()
    said = {
        p.name: re.findall(r"(?<![\w.])main(?![\w.])", p.read_text())
        for p in [root / "README.md", *(root / ".github/workflows").iterdir()]
    }
    assert said == {"README.md": [], **{name: [] for name in NAMES}}  # no word of a branch named main
    linted = actionlint(str(root / ".github/workflows/main.yml"))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # The commands `fleet init` prints next make the branch the apply runs on.
    [git_line] = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("git init")]
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["bash", "-c", f"set -e; {git_line}"], cwd=root, env=env, check=True, capture_output=True)
    current = subprocess.run(
        ["git", "branch", "--show-current"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert current == "trunk"

    # `fleet workflows` keeps the branch; --default-branch changes it.
    cas = root / "manifests/cas.yaml"
    cas.write_text(
        cas.read_text().replace(
            "    mode: SNI_ONLY\n", "    mode: DEFAULT\n    private_key:\n      env: FLEET_CA_KEY_EXAMPLE\n"
        )
    )
    assert fleet("workflows", cwd=root).returncode == 0
    assert apply_branches(root) == ["trunk"]
    assert "secrets.FLEET_CA_KEY_EXAMPLE" in (root / ".github/workflows/main.yml").read_text()
    assert fleet("workflows", "--default-branch", "master", cwd=root).returncode == 0
    assert apply_branches(root) == ["master"]
    assert fleet("workflows", cwd=root).stdout.strip() == "the workflows were already current"


def test_a_default_branch_the_apply_filter_would_not_match_as_written_is_refused(tmp_path: Path) -> None:
    done = fleet("init", "team", "--default-branch", "release/*", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "fleet init: --default-branch 'release/*' is not a branch name of letters, digits "
        "and '_./-' (no pattern characters: the apply workflow's `branches:` filter must "
        "match it as written); nothing was written"
    )
    assert list(tmp_path.iterdir()) == []
    for good in ("main", "master", "trunk", "release/2026", "v2.x"):
        assert new_fleet.branch_problem(good) is None, good
    for bad in ("-x", "a..b", "a b", "x.lock", "a/", "[ab]", "a:b", ""):
        assert new_fleet.branch_problem(bad), bad
