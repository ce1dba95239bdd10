"""A program that declares fleet's component and pulumi_aws resources wired to
its outputs, under Pulumi's mocks (pulumi.runtime.set_mocks): the mocks stand
in for the engine and every provider (pulumi-aws's plugin cannot be had here,
only its Python SDK, pinned for the tests); fleet's own look at AWS before it
declares anything is the local endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from devtools.endpoint import LocalAws
from tests.conftest import Manifests
from tests.unit.test_jitr_manifests import ENABLED, write

PROD = "111111111111"


class Recording(pulumi.runtime.Mocks):
    """Every resource the program registers, with its inputs; fleet's dynamic resources answer their id
    as their providers do (a CA placement's is the CA's id)."""

    def __init__(self) -> None:
        self.made: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.made[args.name] = (args.typ, dict(args.inputs))
        return str(args.inputs.get("certificate_id") or f"{args.name}-id"), dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


@pytest.fixture
def mocks(manifests: Manifests, local_aws: LocalAws, tmp_path: Path) -> Recording:
    write(manifests, None, ENABLED)
    recording = Recording()
    pulumi.runtime.set_mocks(recording, project="fleet", stack="test", preview=False)
    return recording


def test_pulumi_aws_resources_take_fleets_outputs(mocks: Recording, manifests: Manifests, tmp_path: Path) -> None:
    import pulumi_aws as aws  # the tests' pin (requirements.txt); not a dependency of fleet

    from fleet.component import Fleet

    fleet = Fleet("fleet", manifests=manifests.root, project_dir=tmp_path)
    here = fleet.places.apply(lambda places: places["prod/us-east-1"])
    function = here.apply(lambda place: place["jitr_function_arn"])
    alarm = aws.cloudwatch.MetricAlarm(
        "jitr-errors",
        namespace="AWS/Lambda",
        metric_name="Errors",
        statistic="Sum",
        period=300,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        dimensions={"FunctionName": function.apply(lambda arn: arn.rsplit(":", 1)[-1])},
    )
    attachment = aws.iot.PolicyAttachment(
        "telemetry-for-line-1",
        policy=here.apply(lambda place: place["policies"]["telemetry"].rsplit("/", 1)[-1]),
        target=f"arn:aws:iot:us-east-1:{PROD}:thinggroup/line-1",
    )

    def check(values: list[Any]) -> None:
        places, dimensions, policy = values
        root = mocks.made["root.prod.us-east-1"][1]["certificate_id"]
        assert places["prod/us-east-1"] == {
            "account_id": PROD,
            "region": "us-east-1",
            "jitr_function_arn": f"arn:aws:lambda:us-east-1:{PROD}:function:fleet-jitr",
            "cas": {"root": {"id": root, "arn": f"arn:aws:iot:us-east-1:{PROD}:cacert/{root}"}},
            "policies": {"telemetry": f"arn:aws:iot:us-east-1:{PROD}:policy/telemetry"},
        }
        assert dimensions == {"FunctionName": "fleet-jitr"} and policy == "telemetry"
        # fleet's resources are the component's: the function's among them, where auto_activation asks.
        assert mocks.made["fleet"][0] == "fleet:index:Fleet"
        assert mocks.made["jitr.prod.us-east-1"][0] == "pulumi-python:dynamic/fleet:JustInTimeActivation"
        assert mocks.made["jitr-errors"][0] == "aws:cloudwatch/metricAlarm:MetricAlarm"

    done = pulumi.Output.all(fleet.places, alarm.dimensions, attachment.policy).apply(check)
    _wait(done)


def _wait(output: pulumi.Output[Any]) -> None:
    """Run the program's outputs to the end under the mocks (pulumi.runtime.test does this for a test)."""
    pulumi.runtime.test(lambda: output)()


def test_a_team_that_deploys_its_own_function_gets_the_configuration_and_no_function(
    mocks: Recording, manifests: Manifests, tmp_path: Path
) -> None:
    import json

    from fleet.component import Fleet

    fleet = Fleet("fleet", manifests=manifests.root, project_dir=tmp_path, deploy_jitr=False)

    def check(values: list[Any]) -> None:
        places, text = values
        assert not [name for name in mocks.made if name.startswith("jitr.")]  # fleet deploys none
        assert "jitr_function_arn" not in places["prod/us-east-1"]
        config = json.loads(text)  # what the team's function reads as fleet-jitr.json
        assert sorted(key.rsplit("/", 1)[0] for key in config["placements"]) == [
            f"{PROD}/eu-west-1",
            f"{PROD}/us-east-1",
        ]
        assert {p["ca"]: p["policies"] for p in config["placements"].values()} == {"root": ["telemetry"]}
        assert config["version"] == 1 and set(config["places"]) == {f"{PROD}/us-east-1", f"{PROD}/eu-west-1"}

    _wait(pulumi.Output.all(fleet.places, fleet.jitr_configuration).apply(check))
