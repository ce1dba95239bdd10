"""`fleet init` and `fleet workflows`: a fleet repository of a team's own (fleet.scaffold.new_fleet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.base import ManifestsOption, app, fail, load, say


@app.command()
def init(
    target: Annotated[Path, typer.Argument(help="the new repository's folder (missing or empty)")],
    account: Annotated[str, typer.Option("--account", help="the first account's name in the manifests")] = "main",
    account_id: Annotated[str, typer.Option("--account-id", help="its 12-digit AWS account id")] = "111111111111",
    region: Annotated[
        list[str] | None, typer.Option("--region", help="a region fleet manages there (repeat for more)")
    ] = None,
    default_branch: Annotated[
        str,
        typer.Option(
            "--default-branch", help="the repository's default branch: the apply workflow runs on a push to it"
        ),
    ] = "main",
) -> None:
    """Write a new fleet repository: Pulumi project, commented manifests, CI workflows, README."""
    import shutil
    import tempfile

    from fleet.cli.checks import json_schema
    from fleet.scaffold import new_fleet

    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        fail(f"fleet init: {target} is not an empty folder; fleet init writes only into a new one")
    problems = new_fleet.option_problems(account, account_id, region or [], default_branch)
    if problems:
        fail("\n".join(f"fleet init: {p}; nothing was written" for p in problems))
    start = new_fleet.Start(
        name=new_fleet.project_name(target),
        account=account,
        account_id=account_id,
        regions=tuple(region or ["us-east-1"]),
        branch=default_branch,
    )
    target.resolve().parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and moved there once valid: a mistyped account id or region leaves nothing.
    draft = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.resolve().parent))
    try:
        written = new_fleet.init(draft, start, json_schema())
        load(draft / "manifests")
        if target.exists():
            target.rmdir()
        draft.rename(target)
    finally:
        shutil.rmtree(draft, ignore_errors=True)
    say(
        f"Wrote a new fleet in {target} ({len(written)} files). Next:\n\n"
        f"  cd {target}\n"
        f"  git init -b {default_branch} && git add -A && git commit -m 'A new fleet'\n"
        f"  fleet validate\n"
        f"  fleet local      # then, in another shell, what it prints: a first pulumi up against a local AWS\n\n"
        f"README.md says what each file is and what CI needs."
    )


@app.command()
def workflows(
    manifests: ManifestsOption = Path("manifests"),
    root: Annotated[Path, typer.Option("--root", help="the repository's root folder")] = Path("."),
    default_branch: Annotated[
        str | None,
        typer.Option(
            "--default-branch",
            help="the branch the apply workflow runs on (default: the one it runs on now, else main)",
        ),
    ] = None,
) -> None:
    """Write the CI workflows of this fleet (after an upgrade of fleet, or a new CA private key) into
    .github/workflows, from fleet's templates and the CA keys the manifests name."""
    from fleet.scaffold import new_fleet

    branch = default_branch or new_fleet.current_branch(root) or "main"
    problem = new_fleet.branch_problem(branch)
    if problem:
        fail(f"fleet workflows: {problem}; nothing was written")
    fleet = load(manifests)
    ci = new_fleet.Ci(
        ca_key_variables=new_fleet.key_variables(fleet), branch=branch, pulumi_version=new_fleet.pinned_pulumi(root)
    )
    changed = new_fleet.write_workflows(root, ci)
    say("\n".join([f"wrote {p}" for p in changed]) if changed else "the workflows were already current")
