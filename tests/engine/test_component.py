"""fleet as a Pulumi component, through the real engine: declared beside a
program's own resources, which use its outputs; its outputs exported for
another stack's StackReference; and a stack an earlier (top-level) fleet made
takes the component on without any change to what it manages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.pulumi_cli import scratch_project
from tests.conftest import client_in
from tests.engine.conftest import Fleet
from tests.engine.test_device_certificates import Devices
from tests.engine.test_gitops_loop import AUTO_ACTIVATION

pytestmark = pytest.mark.engine
PROD = "111111111111"

BESIDE = '''
import os

import boto3
import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from fleet.component import Fleet


class TopicProvider(ResourceProvider):
    """The program's own resource: an SNS topic for the just-in-time function's alarms."""

    def create(self, props):
        sns = boto3.client("sns", endpoint_url=os.environ["FLEET_AWS_ENDPOINT_URL"], region_name="us-east-1")
        arn = sns.create_topic(Name=props["name"], Tags=[{"Key": "watches", "Value": props["watches"]}])["TopicArn"]
        return CreateResult(arn, {**props, "arn": arn})


class Topic(Resource):
    arn: pulumi.Output[str]

    def __init__(self, name, watches):
        super().__init__(TopicProvider(), name, {"name": name, "watches": watches, "arn": None})


fleet = Fleet("fleet")
fleet.export()
topic = Topic("jitr-alarms", fleet.places.apply(lambda places: places["prod/us-east-1"]["jitr_function_arn"]))
pulumi.export("alarms", topic.arn)
'''

CONSUMER = """
import pulumi

fleet = pulumi.StackReference("organization/fleet/test")
places = fleet.get_output("places")
pulumi.export("function", places.apply(lambda p: p["prod/us-east-1"]["jitr_function_arn"]))
pulumi.export("root", places.apply(lambda p: p["prod/eu-west-1"]["cas"]["root"]["arn"]))
"""


def test_declared_beside_other_resources_and_read_by_another_stack(fleet: Fleet, tmp_path: Path) -> None:
    Devices(fleet)
    fleet.edit("        auto_registration: ENABLE\n", AUTO_ACTIVATION)
    (fleet.project.workdir / "__main__.py").write_text(BESIDE)
    fleet.project.up()

    places = json.loads(fleet.project.run("stack", "output", "places", "--json").stdout)
    root_id = fleet.ca_id("root")
    function = f"arn:aws:lambda:us-east-1:{PROD}:function:fleet-jitr"
    assert places["prod/us-east-1"] == {
        "account_id": PROD,
        "region": "us-east-1",
        "jitr_function_arn": function,
        "cas": {
            "root": {"id": root_id, "arn": f"arn:aws:iot:us-east-1:{PROD}:cacert/{root_id}"},
            "partner": {
                "id": fleet.ca_id("partner"),
                "arn": f"arn:aws:iot:us-east-1:{PROD}:cacert/{fleet.ca_id('partner')}",
            },
        },
        "policies": {"telemetry": f"arn:aws:iot:us-east-1:{PROD}:policy/telemetry"},
    }
    assert "jitr_function_arn" not in places["staging/us-east-1"]  # no auto_activation there
    # The program's own resource took fleet's output.
    sns = client_in(fleet.aws, "sns", "123456789012")
    alarms = json.loads(fleet.project.run("stack", "output", "alarms", "--json").stdout)
    assert sns.list_tags_for_resource(ResourceArn=alarms)["Tags"] == [{"Key": "watches", "Value": function}]

    consumer = scratch_project(
        tmp_path / "consumer", fleet.project.backend, stack="consumer", **fleet.project.extra_env
    )
    (consumer.workdir / "Pulumi.yaml").write_text(
        (consumer.workdir / "Pulumi.yaml").read_text().replace("name: fleet", "name: consumer", 1)
    )
    (consumer.workdir / "__main__.py").write_text(CONSUMER)
    consumer.init(fleet.manifests.root)
    consumer.up()
    assert json.loads(consumer.run("stack", "output", "--json").stdout) == {
        "function": function,
        "root": f"arn:aws:iot:eu-west-1:{PROD}:cacert/{root_id}",
    }


FLAT = """
from fleet.program.declare import declare_fleet

declare_fleet()  # fleet before it was a component: every resource at the top of the stack
"""


@pytest.mark.oldest
def test_a_stack_made_before_the_component_gains_it_and_changes_nothing_else(fleet: Fleet) -> None:
    Devices(fleet)
    program = fleet.project.workdir / "__main__.py"
    component = program.read_text()
    program.write_text(FLAT)
    fleet.project.up()
    before = {
        r["urn"].rsplit("::", 1)[-1]: r["id"]
        for r in fleet.project.state()["deployment"]["resources"]
        if "id" in r and r["type"].startswith("pulumi-python:dynamic")
    }

    program.write_text(component)
    preview = fleet.project.preview()
    assert (
        "+ 1 to create" in preview.output and "to delete" not in preview.output and "to replace" not in preview.output
    ), preview.output
    assert f"{len(before) + 1} unchanged" in preview.output  # every resource of fleet, and the stack
    writes = fleet.aws.writes()
    fleet.project.up()
    assert fleet.aws.writes() == writes  # nothing in AWS changed
    after = {
        r["urn"].rsplit("::", 1)[-1]: r["id"]
        for r in fleet.project.state()["deployment"]["resources"]
        if "id" in r and r["type"].startswith("pulumi-python:dynamic")
    }
    assert after == before
    fleet.project.preview("--expect-no-changes")
