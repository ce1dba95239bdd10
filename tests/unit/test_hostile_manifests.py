"""A corpus of broken and hostile manifests: every one is refused with the
exact file:line and the field named, never a traceback, a hang or a read
outside the repository. One case per class of problem and per field.

(tests/engine/test_hostile_engine.py runs a sample through the real engine
and counts, at the local endpoint, that no AWS write happened.)
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.pki import Issued, issue, make_ca, make_crl
from fleet.manifest import ManifestError, load_fleet
from fleet.manifest.source import MAX_DEPTH
from tests.conftest import Manifests

REGIONS = frozenset({"us-east-1", "eu-west-1"})

ACCOUNTS = """\
accounts:
  prod:
    id: "111111111111"
    deployer_role_arn: arn:aws:iam::111111111111:role/fleet-deployer
    regions: [us-east-1, eu-west-1]
"""
CAS = """\
cas:
  root:
    certificate: pki/root.pem
    mode: SNI_ONLY
    placements:
      - account: prod
        status: ACTIVE
"""
POLICIES = """\
policies:
  telemetry:
    document: telemetry.json
"""
DEVICES = """\
device_certificates:
  line-1:
    ca: root
    certificates: devices
    policies: [telemetry]
"""
TELEMETRY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "arn:aws:iot:{{region}}:{{account_id}}:client/*"}
    ],
}


class Fleet:
    """A valid fleet to break: one SNI CA, one policy, three devices."""

    def __init__(self, manifests: Manifests):
        self.m = manifests
        self.root = manifests.ca("root")
        self.devices: list[Issued] = []
        for n in range(3):
            device = issue(self.root, f"device-{n}")
            device.write(manifests.root / "devices" / f"device-{n}.pem")
            self.devices.append(device)
        for name, text in (
            ("accounts.yaml", ACCOUNTS),
            ("cas.yaml", CAS),
            ("policies.yaml", POLICIES),
            ("devices.yaml", DEVICES),
            ("telemetry.json", json.dumps(TELEMETRY)),
        ):
            manifests.text(name, text)

    def edit(self, name: str, old: str, new: str) -> None:
        path = self.m.root / name
        text = path.read_text()
        assert old in text, (old, name)
        path.write_text(text.replace(old, new, 1))

    def write(self, name: str, text: str | bytes) -> None:
        path = self.m.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)


@dataclass(frozen=True)
class Case:
    name: str
    breaks: Callable[[Fleet], None]
    where: str  # "file.yaml:line" the problem must name
    says: str  # a part of the message (the field, or the words)


def text(name: str, body: str | bytes) -> Callable[[Fleet], None]:
    return lambda f: f.write(name, body)


def edit(name: str, old: str, new: str) -> Callable[[Fleet], None]:
    return lambda f: f.edit(name, old, new)


def both(*changes: Callable[[Fleet], None]) -> Callable[[Fleet], None]:
    def run(f: Fleet) -> None:
        for change in changes:
            change(f)

    return run


def outside_pem(f: Fleet) -> None:
    elsewhere = f.m.root.parent.parent / "outside" / "d.pem"
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    issue(f.root, "outside").write(elsewhere)
    os.symlink(elsewhere, f.m.root / "devices" / "linked.pem")


def expired_device(f: Fleet) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=400)
    issue(f.root, "old", not_before=past, days=30).write(f.m.root / "devices" / "old.pem")


def future_device(f: Fleet) -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    issue(f.root, "later", not_before=later).write(f.m.root / "devices" / "later.pem")


def other_ca_device(f: Fleet) -> None:
    issue(make_ca("other"), "stranger").write(f.m.root / "devices" / "stranger.pem")


def no_cn_thing(f: Fleet) -> None:
    issue(f.root, "bad name with spaces").write(f.m.root / "devices" / "spaces.pem")
    f.edit("devices.yaml", "    policies: [telemetry]\n", "    policies: [telemetry]\n    things: common-name\n")


def fifo(name: str) -> Callable[[Fleet], None]:
    """A FIFO where a file is expected: a read of it would block forever."""

    def run(f: Fleet) -> None:
        path = f.m.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    return run


def crl_listed(f: Fleet) -> None:
    (f.m.root / "pki" / "root.crl").write_bytes(make_crl(f.root, [f.devices[0]]))
    f.edit("cas.yaml", "    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n")


def foreign_crl(f: Fleet) -> None:
    (f.m.root / "pki" / "root.crl").write_bytes(make_crl(make_ca("other"), []))
    f.edit("cas.yaml", "    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n")


def not_a_ca(f: Fleet) -> None:
    make_ca("root", is_ca=False).write(f.m.root / "pki" / "root.pem")


def expired_ca(f: Fleet) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=400)
    make_ca("root", not_before=past, days=30).write(f.m.root / "pki" / "root.pem")


def default_ca_wrong_key(f: Fleet) -> None:
    other = make_ca("someone else")
    other.write(f.m.root / "pki" / "elsewhere.pem", f.m.root / "pki" / "wrong.key")
    f.edit("cas.yaml", "    mode: SNI_ONLY\n", "    mode: DEFAULT\n    private_key: {file: pki/wrong.key}\n")


def deep_json(f: Fleet) -> None:
    f.write("telemetry.json", "[" * 20_000 + "]" * 20_000)


def many_policies(f: Fleet) -> None:
    names = [f"p{n}" for n in range(11)]
    f.write("policies.yaml", "policies:\n" + "".join(f"  {n}:\n    document: telemetry.json\n" for n in names))
    f.edit("devices.yaml", "    policies: [telemetry]\n", f"    policies: [{', '.join(names)}]\n")


def laughs() -> str:
    lines = ["x-a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for level, name in enumerate("bcdefgh"):
        previous = "abcdefgh"[level]
        lines.append(f"x-{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "\n".join(lines) + "\naccounts: {}\n"


JITP = "        status: ACTIVE\n        registration_config: "
LEDGER_OK = (
    "revocations:\n  entries:\n    - date: 2026-11-01\n      reason: stolen\n      places:\n"
    "        - 111111111111/us-east-1\n      certificates: |\n        " + "ab" * 32 + "\n"
)

CASES = [
    # --- reading the files: structure and bounds -------------------------------------------------
    Case("billion-laughs", text("bomb.yaml", laughs()), "bomb.yaml:", "once its aliases are expanded"),
    Case(
        "deep-flow",
        text("deep.yaml", "x: " + "[" * 500 + "]" * 500 + "\n"),
        "deep.yaml:1",
        f"nested more than {MAX_DEPTH} levels deep",
    ),
    Case(
        "deep-block", text("deep.yaml", "".join("  " * i + f"k{i}:\n" for i in range(100))), "deep.yaml:", "levels deep"
    ),
    Case("nul-byte", text("nul.yaml", "accounts:\n  prod:\x00\n"), "nul.yaml:2:8", "a character YAML does not allow"),
    Case("not-utf8", text("latin1.yaml", b"accounts:\n  pr\xe9d: {}\n"), "latin1.yaml:2:5", "not UTF-8 text"),
    Case(
        "oversize",
        text("big.yaml", "# " + "x" * (16 * 1024 * 1024) + "\n"),
        "big.yaml:1:1",
        "fleet reads manifest files of at most 16 MiB",
    ),
    Case("duplicate-key", text("dup.yaml", "accounts: {}\naccounts: {}\n"), "dup.yaml:2:1", "duplicate key 'accounts'"),
    Case("two-documents", text("two.yaml", "accounts: {}\n---\ncas: {}\n"), "two.yaml:2:1", "another document"),
    Case("top-level-list", text("list.yaml", "- accounts\n"), "list.yaml:1:1", "a manifest must be a mapping"),
    Case("tab", text("tab.yaml", "accounts:\n\tprod: {}\n"), "tab.yaml:2:1", "that cannot start any token"),
    Case("unclosed-flow", text("open.yaml", "accounts: [1, 2\n"), "open.yaml:2:1", "expected ',' or ']'"),
    Case(
        "unknown-top-level",
        text("extra.yaml", "acounts: {}\n"),
        "extra.yaml:1:1",
        "unknown field 'acounts' (did you mean 'accounts'?)",
    ),
    Case(
        "python-tag",
        edit("accounts.yaml", '    id: "111111111111"\n', "    id: !!python/object:os.system x\n"),
        "accounts.yaml:3:9",
        "accounts.prod.id",
    ),
    Case(
        "merge-key-bad-value",
        both(
            edit("accounts.yaml", "accounts:\n", "x-region: &r [us-east-9]\naccounts:\n"),
            edit("accounts.yaml", "    regions: [us-east-1, eu-west-1]\n", "    regions: *r\n"),
        ),
        "accounts.yaml:1:",
        "unknown AWS IoT region 'us-east-9'",
    ),
    Case(
        "merge-key-mapping",
        both(
            edit("cas.yaml", "cas:\n", "x-p: &p {status: ACTIVATED}\ncas:\n"),
            edit("cas.yaml", "        status: ACTIVE\n", "        <<: *p\n"),
        ),
        "cas.yaml:1:",
        "cas.root.placements[0].status",
    ),
    Case(
        "empty-value-line",
        edit("cas.yaml", "    certificate: pki/root.pem\n", "    certificate:\n"),
        "cas.yaml:3:5",
        "cas.root.certificate",
    ),
    Case("no-manifests", lambda f: [p.unlink() for p in f.m.root.glob("*.yaml")], ":1:1", "no *.yaml manifests found"),
    Case("fifo-manifest", fifo("zz.yaml"), "zz.yaml:1:1", "cannot read: not a regular file"),
    Case("fifo-device", fifo("devices/fifo.pem"), "devices.yaml:4:19", "fifo.pem: not a regular file"),
    Case("fifo-ca", fifo("pki/root.pem"), "cas.yaml:3:18", "cannot read pki/root.pem: not a regular file"),
    Case("fifo-policy", fifo("telemetry.json"), "policies.yaml:3:15", "cannot read telemetry.json: not a regular file"),
    # --- accounts --------------------------------------------------------------------------------
    Case(
        "account-id-short",
        edit("accounts.yaml", '"111111111111"', '"1111"'),
        "accounts.yaml:3:9",
        "accounts.prod.id: '1111' is not a valid 12-digit account id",
    ),
    Case(
        "account-id-unquoted",
        edit("accounts.yaml", '"111111111111"', "111111111111"),
        "accounts.yaml:3:9",
        "accounts.prod.id",
    ),
    Case(
        "role-arn",
        edit("accounts.yaml", "arn:aws:iam::111111111111:role/fleet-deployer", "fleet-deployer"),
        "accounts.yaml:4:24",
        "is not a valid IAM role ARN",
    ),
    Case(
        "role-elsewhere",
        edit("accounts.yaml", "arn:aws:iam::111111111111:", "arn:aws:iam::222222222222:"),
        "accounts.yaml:3:5",
        "deployer_role_arn is in account 222222222222",
    ),
    Case(
        "regions-empty",
        edit("accounts.yaml", "[us-east-1, eu-west-1]", "[]"),
        "accounts.yaml:5:14",
        "accounts.prod.regions",
    ),
    Case(
        "region-unknown",
        edit("accounts.yaml", "eu-west-1]", "eu-west-9]"),
        "accounts.yaml:5:",
        "unknown AWS IoT region 'eu-west-9'",
    ),
    Case(
        "region-twice",
        edit("accounts.yaml", "eu-west-1]", "us-east-1]"),
        "accounts.yaml:5:14",
        "region 'us-east-1' is listed twice",
    ),
    Case(
        "account-name", edit("accounts.yaml", "  prod:\n", "  Prod_1:\n"), "accounts.yaml:2:3", "invalid name 'Prod_1'"
    ),
    Case(
        "account-field",
        edit("accounts.yaml", "    regions:", "    region:"),
        "accounts.yaml:5:5",
        "unknown field 'region' (did you mean 'regions'?)",
    ),
    Case("account-twice", text("more.yaml", ACCOUNTS), "more.yaml:2:3", "account 'prod' is declared"),
    # --- CAs ---------------------------------------------------------------------------------------
    Case(
        "ca-missing-file", edit("cas.yaml", "pki/root.pem", "pki/nope.pem"), "cas.yaml:3:18", "cannot read pki/nope.pem"
    ),
    Case(
        "ca-dotdot",
        edit("cas.yaml", "pki/root.pem", "../../../../etc/passwd"),
        "cas.yaml:3:18",
        "outside the repository",
    ),
    Case("ca-absolute", edit("cas.yaml", "pki/root.pem", "/etc/hostname"), "cas.yaml:3:18", "outside the repository"),
    Case("ca-not-pem", text("pki/root.pem", "hello\n"), "cas.yaml:3:18", "expected exactly one PEM certificate"),
    Case(
        "ca-two-pems",
        lambda f: f.write("pki/root.pem", (f.m.root / "pki" / "root.pem").read_text() * 2),
        "cas.yaml:3:18",
        "expected exactly one PEM certificate",
    ),
    Case(
        "ca-garbled",
        text("pki/root.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        "cas.yaml:3:18",
        "malformed PEM certificate",
    ),
    Case("ca-not-ca", not_a_ca, "cas.yaml:3:18", "is not a CA certificate"),
    Case("ca-expired", expired_ca, "cas.yaml:3:18", "is expired"),
    Case("ca-mode", edit("cas.yaml", "SNI_ONLY", "SNI"), "cas.yaml:4:11", "cas.root.mode: must be one of"),
    Case(
        "ca-default-no-key", edit("cas.yaml", "SNI_ONLY", "DEFAULT"), "cas.yaml:2:3", "mode DEFAULT needs private_key"
    ),
    Case(
        "ca-key-both",
        edit("cas.yaml", "    mode: SNI_ONLY\n", "    private_key: {env: K, file: k.pem}\n    mode: SNI_ONLY\n"),
        "cas.yaml:4:18",
        "give exactly one of kms, env or file",
    ),
    Case(
        "ca-key-outside",
        edit("cas.yaml", "    mode: SNI_ONLY\n", "    private_key: {file: /root/ca.key}\n    mode: SNI_ONLY\n"),
        "cas.yaml:4:",
        "outside the repository",
    ),
    Case(
        "ca-key-env-name",
        edit("cas.yaml", "    mode: SNI_ONLY\n", "    private_key: {env: 1BAD}\n    mode: SNI_ONLY\n"),
        "cas.yaml:4:",
        "not a valid environment variable name",
    ),
    Case("ca-wrong-key", default_ca_wrong_key, "cas.yaml:", "is not this CA's private key"),
    Case(
        "placement-account",
        edit("cas.yaml", "      - account: prod\n", "      - account: prd\n"),
        "cas.yaml:6:18",
        "unknown account 'prd' (did you mean 'prod'?)",
    ),
    Case(
        "placement-region",
        edit("cas.yaml", "      - account: prod\n", "      - account: prod\n        regions: [ap-south-1]\n"),
        "cas.yaml:7:19",
        "region 'ap-south-1' is not one of account 'prod''s regions",
    ),
    Case(
        "placement-twice",
        edit("cas.yaml", "        status: ACTIVE\n", "        status: ACTIVE\n      - account: prod\n"),
        "cas.yaml:8:9",
        "is placed twice",
    ),
    Case(
        "placement-status",
        edit("cas.yaml", "status: ACTIVE", "status: ON"),
        "cas.yaml:7:17",
        "cas.root.placements[0].status: must be one of",
    ),
    Case(
        "placement-auto-reg",
        edit("cas.yaml", "        status: ACTIVE\n", "        status: ACTIVE\n        auto_registration: YES\n"),
        "cas.yaml:8:28",
        "auto_registration",
    ),
    Case(
        "auto-activation-needs-enable",
        edit(
            "cas.yaml", "        status: ACTIVE\n", "        status: ACTIVE\n        auto_activation: {policies: []}\n"
        ),
        "cas.yaml:6:",
        "auto_activation needs auto_registration: ENABLE",
    ),
    Case(
        "auto-activation-policy",
        edit(
            "cas.yaml",
            "        status: ACTIVE\n",
            "        status: ACTIVE\n        auto_registration: ENABLE\n"
            "        auto_activation: {policies: [telemetri]}\n",
        ),
        "cas.yaml:9:",
        "unknown policy 'telemetri' (did you mean 'telemetry'?)",
    ),
    Case(
        "jitp-both",
        edit("cas.yaml", "        status: ACTIVE\n", JITP + "{template_body: '{}', template_name: x}\n"),
        "cas.yaml:8:",
        "give template_body or template_name, not both",
    ),
    Case(
        "jitp-json",
        edit("cas.yaml", "        status: ACTIVE\n", JITP + "{template_body: '{oops'}\n"),
        "cas.yaml:8:",
        "template_body is not valid JSON",
    ),
    Case(
        "jitp-deep-json",
        edit("cas.yaml", "        status: ACTIVE\n", JITP + "{template_body: '" + "[" * 5000 + "]" * 5000 + "'}\n"),
        "cas.yaml:8:",
        "template_body is JSON nested too deeply",
    ),
    Case(
        "jitp-role",
        edit("cas.yaml", "        status: ACTIVE\n", JITP + "{role_arn: jitp}\n"),
        "cas.yaml:8:",
        "is not a valid IAM role ARN",
    ),
    Case(
        "crl-not-crl",
        both(
            text("pki/root.crl", "nope"),
            edit("cas.yaml", "    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: pki/root.crl\n"),
        ),
        "cas.yaml:5:22",
        "not a certificate revocation list",
    ),
    Case("crl-foreign", foreign_crl, "cas.yaml:5:22", "is not signed by CA 'root'"),
    Case(
        "crl-outside",
        edit("cas.yaml", "    mode: SNI_ONLY\n", "    mode: SNI_ONLY\n    revocation_list: ../../x.crl\n"),
        "cas.yaml:5:22",
        "outside the repository",
    ),
    Case("crl-listed-active", crl_listed, "devices.yaml:4:19", "is on CA 'root''s revocation list but declared ACTIVE"),
    Case("ca-twice", text("more-cas.yaml", CAS), "more-cas.yaml:2:3", "CA 'root' is declared"),
    # --- policies ------------------------------------------------------------------------------------
    Case(
        "policy-missing",
        edit("policies.yaml", "telemetry.json", "nope.json"),
        "policies.yaml:3:15",
        "cannot read nope.json",
    ),
    Case(
        "policy-outside",
        edit("policies.yaml", "telemetry.json", "/etc/hostname"),
        "policies.yaml:3:15",
        "outside the repository",
    ),
    Case("policy-not-json", text("telemetry.json", "{nope"), "policies.yaml:3:15", "not valid JSON"),
    Case("policy-list", text("telemetry.json", "[]"), "policies.yaml:3:15", "not a list"),
    Case(
        "policy-version",
        text("telemetry.json", json.dumps({**TELEMETRY, "Version": "2008-10-17"})),
        "policies.yaml:3:15",
        "Version must be '2012-10-17'",
    ),
    Case(
        "policy-no-statement",
        text("telemetry.json", json.dumps({"Version": "2012-10-17"})),
        "policies.yaml:3:15",
        "Statement must be a statement or a non-empty list",
    ),
    Case(
        "policy-effect",
        text(
            "telemetry.json",
            json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "allow", "Action": "iot:Connect", "Resource": "*"}]}
            ),
        ),
        "policies.yaml:3:15",
        "Effect must be 'Allow' or 'Deny'",
    ),
    Case(
        "policy-action",
        text(
            "telemetry.json",
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}),
        ),
        "policies.yaml:3:15",
        "Action must be a string or a non-empty list of strings",
    ),
    Case(
        "policy-resource",
        text(
            "telemetry.json",
            json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect"}]}),
        ),
        "policies.yaml:3:15",
        "Resource must be a string",
    ),
    Case(
        "policy-statement-key",
        text(
            "telemetry.json",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Principal": "*"}],
                }
            ),
        ),
        "policies.yaml:3:15",
        "unknown key 'Principal'",
    ),
    Case(
        "policy-condition",
        text(
            "telemetry.json",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*", "Condition": []}],
                }
            ),
        ),
        "policies.yaml:3:15",
        "Condition must be a JSON object",
    ),
    Case("policy-deep", deep_json, "policies.yaml:3:15", "nested too deeply"),
    Case(
        "policy-substitution",
        text("telemetry.json", json.dumps(TELEMETRY).replace("{{region}}", "{{regoin}}")),
        "policies.yaml:3:15",
        "unknown substitution {{regoin}}",
    ),
    Case(
        "policy-too-long",
        text(
            "telemetry.json",
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "r" * 3000}],
                }
            ),
        ),
        "policies.yaml:3:15",
        "AWS allows 2048",
    ),
    Case("policy-binary", text("telemetry.json", b"\xff\xfe{}"), "policies.yaml:3:15", "not UTF-8 text"),
    Case(
        "policy-twice", text("more-policies.yaml", POLICIES), "more-policies.yaml:2:3", "policy 'telemetry' is declared"
    ),
    # --- device certificates ----------------------------------------------------------------------------
    Case(
        "group-missing",
        edit("devices.yaml", "certificates: devices", "certificates: nowhere"),
        "devices.yaml:4:19",
        "no PEM certificate at nowhere",
    ),
    Case(
        "group-outside",
        edit("devices.yaml", "certificates: devices", "certificates: ../../.."),
        "devices.yaml:4:19",
        "outside the repository",
    ),
    Case("group-symlink-out", outside_pem, "devices.yaml:4:19", "outside the repository"),
    Case(
        "group-bad-pem",
        text("devices/bad.pem", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"),
        "devices.yaml:4:19",
        "devices/bad.pem: malformed PEM certificate",
    ),
    Case(
        "group-huge-pem",
        text("devices/huge.pem", "x" * 100_000),
        "devices.yaml:4:19",
        "more than a file of this kind holds",
    ),
    Case(
        "group-other-ca",
        other_ca_device,
        "devices.yaml:3:9",
        "is signed by none of the manifests' CAs (its issuer is 'CN=other,O=fleet example'), not by CA 'root'",
    ),
    Case("group-expired", expired_device, "devices.yaml:4:19", "is expired"),
    Case("group-not-yet", future_device, "devices.yaml:4:19", "is not valid before"),
    Case(
        "group-unknown-ca",
        edit("devices.yaml", "    ca: root\n", "    ca: rot\n"),
        "devices.yaml:3:9",
        "unknown CA 'rot' (did you mean 'root'?)",
    ),
    Case(
        "group-unknown-policy",
        edit("devices.yaml", "[telemetry]", "[telemtry]"),
        "devices.yaml:5:16",
        "unknown policy 'telemtry' (did you mean 'telemetry'?)",
    ),
    Case("group-eleven-policies", many_policies, "devices.yaml:5:15", "at most 10 items"),
    Case(
        "group-placement-account",
        edit(
            "devices.yaml", "    policies: [telemetry]\n", "    policies: [telemetry]\n    placements: [{account: x}]\n"
        ),
        "devices.yaml:6:",
        "unknown account 'x'",
    ),
    Case(
        "group-placement-region",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n    placements: [{account: prod, regions: [ap-south-1]}]\n",
        ),
        "devices.yaml:6:",
        "region 'ap-south-1' is not one of account 'prod''s regions",
    ),
    Case(
        "group-without-ca-placements",
        edit("devices.yaml", "    ca: root\n", ""),
        "devices.yaml:2:3",
        "a group without a CA needs placements",
    ),
    Case("group-things", no_cn_thing, "devices.yaml:6:13", "usable as a thing name"),
    Case(
        "group-status",
        edit("devices.yaml", "    policies: [telemetry]\n", "    policies: [telemetry]\n    status: BROKEN\n"),
        "devices.yaml:6:13",
        "device_certificates.line-1.status",
    ),
    Case(
        "revoked-without-revocation",
        edit("devices.yaml", "    policies: [telemetry]\n", "    policies: [telemetry]\n    status: REVOKED\n"),
        "devices.yaml:3:5",
        "status REVOKED needs a revocation",
    ),
    Case(
        "revocation-without-revoked",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n    revocation: {reason: x, date: 2026-11-01}\n",
        ),
        "devices.yaml:6:17",
        "only status REVOKED carries a revocation, and the status here is ACTIVE",
    ),
    Case(
        "revocation-in-future",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n    status: REVOKED\n    revocation: {reason: x, date: 2999-01-01}\n",
        ),
        "devices.yaml:7:",
        "2999-01-01 is in the future",
    ),
    Case(
        "revocation-empty-reason",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n    status: REVOKED\n    revocation: {reason: '', date: 2026-11-01}\n",
        ),
        "devices.yaml:7:",
        "revocation.reason",
    ),
    Case(
        "exception-stranger",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n"
            "    exceptions:\n      - certificate:"
            " devices/nope.pem\n        status: "
            "INACTIVE\n",
        ),
        "devices.yaml:7:22",
        "nope.pem is not one of this group's certificates",
    ),
    Case(
        "exception-twice",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n    exceptions:\n"
            "      - {certificate: devices/device-0.pem, status: INACTIVE}\n"
            "      - {certificate: devices/device-0.pem, status: ACTIVE}\n",
        ),
        "devices.yaml:8:",
        "already has an exception in this group",
    ),
    Case(
        "exception-outside",
        edit(
            "devices.yaml",
            "    policies: [telemetry]\n",
            "    policies: [telemetry]\n    exceptions:\n      - {certificate: /etc/x.pem, status: INACTIVE}\n",
        ),
        "devices.yaml:7:",
        "outside the repository",
    ),
    Case(
        "group-twice-same-cert", text("again.yaml", DEVICES.replace("line-1", "line-2")), "again.yaml:4:19", "declared"
    ),
    Case(
        "group-field",
        edit("devices.yaml", "    policies:", "    policy:"),
        "devices.yaml:5:5",
        "unknown field 'policy' (did you mean 'policies'?)",
    ),
    # --- the revocation ledger -------------------------------------------------------------------------
    Case(
        "ledger-date",
        text("revocations.yaml", LEDGER_OK.replace("2026-11-01", "2999-01-01")),
        "revocations.yaml:3:13",
        "2999-01-01 is in the future",
    ),
    Case(
        "ledger-fingerprint",
        text("revocations.yaml", LEDGER_OK.replace("ab" * 32, "not-a-fingerprint")),
        "revocations.yaml:8:",
        "'not-a-fingerprint' is not a fingerprint",
    ),
    Case(
        "ledger-place",
        text("revocations.yaml", LEDGER_OK.replace("111111111111/us-east-1", "prod/us-east-1")),
        "revocations.yaml:6:",
        "revocations.entries[0].places[0]",
    ),
    Case(
        "ledger-account-without-role",
        text("revocations.yaml", LEDGER_OK.replace("111111111111", "333333333333")),
        "revocations.yaml:6:",
        "account 333333333333 is neither in the manifests' accounts nor in revocations.roles",
    ),
    Case(
        "ledger-role",
        text("revocations.yaml", LEDGER_OK.replace("  entries:\n", "  roles: {'333333333333': nope}\n  entries:\n")),
        "revocations.yaml:2:",
        "is not a valid IAM role ARN",
    ),
    Case(
        "ledger-field",
        text("revocations.yaml", LEDGER_OK.replace("      reason:", "      reasons:")),
        "revocations.yaml:4:7",
        "unknown field 'reasons' (did you mean 'reason'?)",
    ),
    Case(
        "outside-relative",
        text("settings.yaml", "outside_repository: [keys]\n"),
        "settings.yaml:1:",
        "'keys' is not an absolute folder",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_broken_manifest_is_refused_at_its_line_and_field(case: Case, manifests: Manifests) -> None:
    fleet = Fleet(manifests)
    case.breaks(fleet)
    with pytest.raises(ManifestError) as caught:
        load_fleet(
            manifests.root, known_regions=REGIONS, display_root=manifests.root.parent, repository=manifests.root.parent
        )
    lines = [str(p) for p in caught.value.problems]
    prefix = "manifests" + case.where if case.where.startswith(":") else f"manifests/{case.where}"
    assert any(line.startswith(prefix) and case.says in line for line in lines), lines


@pytest.mark.parametrize("copy", ["again.yaml", "zz-again.yaml"])
def test_a_certificate_declared_twice_is_named_at_both_declarations(manifests: Manifests, copy: str) -> None:
    Fleet(manifests)
    manifests.text(copy, DEVICES.replace("line-1", "line-2"))
    with pytest.raises(ManifestError) as caught:
        load_fleet(manifests.root, known_regions=REGIONS, display_root=manifests.root.parent)
    lines = [str(p) for p in caught.value.problems]
    # Whichever file is read first, the copy's line names the original, and the original's the copy.
    assert any(line.startswith(f"manifests/{copy}:4:19") and "group 'line-1'" in line for line in lines), lines
    assert any(line.startswith("manifests/devices.yaml:4:19") and "group 'line-2'" in line for line in lines), lines


def test_the_corpus_covers_every_class_the_issue_names() -> None:
    assert len(CASES) >= 80
    assert len({c.name for c in CASES}) == len(CASES)


def test_the_unbroken_fleet_loads(manifests: Manifests) -> None:
    Fleet(manifests)
    fleet = load_fleet(manifests.root, known_regions=REGIONS, repository=manifests.root.parent)
    assert len(fleet.certificate_groups) == 2


def test_a_merge_key_brings_its_values_with_their_lines(manifests: Manifests) -> None:
    Fleet(manifests)
    manifests.text(
        "cas.yaml",
        CAS.replace("cas:\n", "x-placement: &p\n  status: INACTIVE\ncas:\n").replace(
            "        status: ACTIVE\n", "        <<: *p\n"
        ),
    )
    fleet = load_fleet(manifests.root, known_regions=REGIONS, repository=manifests.root.parent)
    assert {p.status for p in fleet.ca_placements} == {"INACTIVE"}


def test_a_folder_outside_the_repository_is_readable_once_a_manifest_allows_it(manifests: Manifests) -> None:
    fleet = Fleet(manifests)
    keys = Path(tempfile.mkdtemp(prefix="fleet-keys-"))
    make_ca("k").write(keys / "c.pem", keys / "ca.key")
    root_key = keys / "root.key"
    root_key.write_text(fleet.root.key_pem)
    manifests.text(
        "cas.yaml", CAS.replace("    mode: SNI_ONLY\n", f"    mode: DEFAULT\n    private_key: {{file: {root_key}}}\n")
    )
    with pytest.raises(ManifestError, match="outside the repository"):
        load_fleet(manifests.root, known_regions=REGIONS, repository=manifests.root.parent)
    manifests.text("settings.yaml", f"outside_repository: [{keys}]\n")
    loaded = load_fleet(manifests.root, known_regions=REGIONS, repository=manifests.root.parent)
    assert loaded.ca_placements[0].private_key is not None
