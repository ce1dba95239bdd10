"""A fleet run as several stacks (docs/scale.md, "Sharding a large fleet"), for real: two
stacks on the S3 backend, each limited to one account by its `places`, applied at
the same time; a third stack without places refused, naming them, and places
that name nothing refused; and a place moved from one stack to the other
without a write to AWS."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from devtools.pulumi_cli import PulumiProject
from tests.engine.synthetic import Synthetic

pytestmark = pytest.mark.engine

IOT_WRITES = ("Register", "Update", "Delete", "Attach", "Detach", "Create")


def stack(on_s3: Synthetic, name: str, *places: str) -> PulumiProject:
    project = on_s3.project if name == on_s3.project.stack else replace(on_s3.project, stack=name, history=[])
    if project is not on_s3.project:
        project.init(on_s3.manifests)
    set_places(project, *places)
    return project


def set_places(project: PulumiProject, *places: str) -> None:
    project.run("config", "rm", "places", ok=(0, 255))
    for index, place in enumerate(places):
        project.run("config", "set", "--path", f"places[{index}]", place)


def resources_of(project: PulumiProject) -> set[str]:
    resources = project.state()["deployment"].get("resources") or []
    return {
        r["urn"].split("::")[-1]
        for r in resources
        if "dynamic/fleet:" in r["urn"] and "dynamic/fleet:Stack::" not in r["urn"]
    }


def iot_writes(on_s3: Synthetic) -> dict[str, int]:
    return {
        name: n
        for name, n in on_s3.aws.calls().items()
        if name.startswith("iot:") and name.removeprefix("iot:").startswith(IOT_WRITES)
    }


@pytest.fixture
def shards(on_s3: Synthetic) -> tuple[PulumiProject, PulumiProject]:
    return stack(on_s3, "test", "prod"), stack(on_s3, "staging", "staging")


def test_two_shards_apply_side_by_side_and_together_make_the_fleet(
    on_s3: Synthetic, shards: tuple[PulumiProject, PulumiProject]
) -> None:
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(project.up) for project in shards]:
            done.result()  # each with its own lock: neither waits for, nor is refused by, the other
    prod, staging = (resources_of(project) for project in shards)
    assert prod and staging
    assert all(".prod." in name for name in prod) and all(".staging." in name for name in staging)
    on_s3.assert_aws_equals_manifests()
    for project in shards:
        project.preview("--refresh", "--expect-no-changes")

    third = stack(on_s3, "third")  # no places: every place, which the two shards hold
    refused = third.preview(ok=(255, 1))
    assert "each place is managed by one stack" in refused.output, refused.output
    assert "is in the places of stack `test` (Pulumi.test.yaml) and of this stack `third`" in refused.output
    assert "is in the places of stack `staging` (Pulumi.staging.yaml) and of this stack `third`" in refused.output
    assert "Exception calling application" not in refused.output

    # Places that name nothing the manifests know: refused before any write, naming the file.
    writes = iot_writes(on_s3)
    set_places(shards[0], "prd")
    refused = shards[0].up(ok=(255, 1))
    assert (
        "Pulumi.test.yaml: places: 'prd': no account 'prd' in the manifests (known: prod, staging)" in refused.output
    ), refused.output
    assert iot_writes(on_s3) == writes


def test_a_place_moves_between_shards_without_a_write_to_aws(
    on_s3: Synthetic, shards: tuple[PulumiProject, PulumiProject]
) -> None:
    test, staging = shards
    for project in shards:
        project.up()
    # One change: staging/eu-west-1 leaves stack `staging` for stack `test`.
    set_places(test, "prod", "staging/eu-west-1")
    set_places(staging, "staging/us-east-1")

    plan = staging.run("preview", "--json")
    (on_s3.root / "plan.json").write_text(plan.stdout)
    review = subprocess.run(
        [
            sys.executable,
            "-m",
            "fleet",
            "review",
            str(on_s3.root / "plan.json"),
            "--no-aws",
            "--stack",
            "staging",
            "-m",
            str(on_s3.manifests),
        ],
        capture_output=True,
        text=True,
        env=staging.env(),
        check=True,
        timeout=300,
    ).stdout
    assert review.startswith("<!-- fleet-review:staging -->\n## fleet: planned changes to stack `staging`\n")
    assert (
        "### staging / eu-west-1\n\n- handed over to stack `test`: this stack forgets its resources here; "
        "nothing is deleted in AWS\n" in review
    ), review
    assert "| staging | eu-west-1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in review

    before = iot_writes(on_s3)
    test.up()  # adopts what AWS has, while `staging`'s state still holds it
    staging.up()  # hands it over
    assert iot_writes(on_s3) == before, "moving a place wrote to AWS"
    assert any(".staging.eu-west-1" in name for name in resources_of(test))
    assert not any(".staging.eu-west-1" in name for name in resources_of(staging))
    on_s3.assert_aws_equals_manifests()
    for project in shards:
        project.preview("--refresh", "--expect-no-changes")

    # Narrowing a stack without another stack naming the place would delete what the manifests want: refused.
    set_places(test, "prod/eu-west-1", "staging/eu-west-1")
    refused = test.preview(ok=(255, 1))
    assert (
        "prod/us-east-1: this stack `test` manages it, but neither its places nor any other stack's name it"
        in refused.output
    ), refused.output
