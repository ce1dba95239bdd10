"""What fleet declares for just-in-time activation (fleet.model.declarations.JitrInputs):
one resource per account and region with a CA placement that has
``auto_activation``, each with the same configuration (fleet.jitr.configuration)
in its package, and nothing anywhere else."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.jitr import configuration, package, role
from fleet.manifest.desired import Fleet
from fleet.model.declarations import JitrInputs, json_text

PRINCIPAL = "iot.amazonaws.com"
TIMEOUT_SECONDS = 60  # reads every other place (8 at a time) before it activates
MEMORY_MB = 256
# Within the function's time: a throttled read or one that cannot reach a place gives up in time to say why.
ENVIRONMENT = {"FLEET_AWS_RETRY_SECONDS": "10"}


@dataclass(frozen=True)
class Declared:
    inputs: tuple[JitrInputs, ...] = ()
    packages: dict[str, bytes] = field(default_factory=dict)  # code_sha256 -> the package, for the program to keep
    configuration: str = ""  # its text ("": no placement has auto_activation)


def rule_name(ca_id: str) -> str:
    """Topic rule names allow [a-zA-Z0-9_]: one per CA."""
    return f"fleet_jitr_{ca_id}"


def rule_sql(ca_id: str) -> str:
    return f"SELECT * FROM '$aws/events/certificates/registered/{ca_id}'"  # noqa: S608 (an IoT rule; ca_id is hex)


def statement_id(ca_id: str) -> str:
    return f"fleet-jitr-{ca_id}"


def declare(fleet: Fleet, reader_role: str = configuration.READER_ROLE) -> Declared:
    wanted = sorted({(p.account_id, p.region) for p in fleet.ca_placements if p.activation_policies is not None})
    if not wanted:
        return Declared()
    places = configuration.places_of(fleet, reader_role)
    text = configuration.as_text(configuration.configuration(fleet, configuration.revoked_in_manifests(fleet), places))
    built = package.build(text)
    digest = package.code_sha256(built)
    accounts = {a.id: a for a in fleet.accounts}
    inputs = []
    for account_id, region in wanted:
        account = accounts[account_id]
        partition = account.role_arn.split(":")[1]
        function_arn = role.function_arn(partition, account_id, region)
        here = [
            p
            for p in fleet.ca_placements
            if (p.account_id, p.region) == (account_id, region) and p.activation_policies is not None
        ]
        readers = {arn for (other, _), arn in places.items() if other != account_id}
        inputs.append(
            JitrInputs(
                account=account.name,
                account_id=account_id,
                role_arn=account.role_arn,
                region=region,
                source=", ".join(sorted({p.source for p in here})),
                role={
                    "trust": json_text(role.TRUST),
                    "others": "",
                    "policy": json_text(role.policy(partition, account_id, region, readers)),
                },
                function={
                    "code_sha256": digest,
                    "runtime": package.RUNTIME,
                    "handler": package.HANDLER,
                    "role": role.role_arn(partition, account_id, region),
                    "timeout": str(TIMEOUT_SECONDS),
                    "memory": str(MEMORY_MB),
                    "environment": json_text(ENVIRONMENT),
                },
                permissions={
                    statement_id(p.certificate_id): {
                        "principal": PRINCIPAL,
                        "source_account": account_id,
                        "source_arn": f"arn:{partition}:iot:{region}:{account_id}:rule/{rule_name(p.certificate_id)}",
                    }
                    for p in here
                },
                rules={
                    rule_name(p.certificate_id): {
                        "sql": rule_sql(p.certificate_id),
                        "enabled": "true",
                        "actions": f"lambda:{function_arn}",
                    }
                    for p in here
                },
            )
        )
    return Declared(tuple(inputs), {digest: built}, text)
