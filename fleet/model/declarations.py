"""What the program declares for each resource, typed, and what each kind of
resource is (its spec): one place for the inputs, the keys that force a
replacement, and the AWS actions each operation may call.

The program builds these from the manifests (fleet.desired); providers read
them back from Pulumi's properties (``of``); provider reads report what AWS
has in the same shape, so the engine's diff after a refresh names each key
that drifted; `fleet drift` compares the same shapes; `fleet review` reads
plans through them; docs/iam-*.json derive from the specs. No pulumi, no
boto3 here.

Device certificates are spread over SHARDS resources per account and region
by the first hex digit of their fingerprint: which resource holds a
certificate depends on the certificate alone, so adding or removing others
never moves it, and no group is too big for its resources. Per certificate
the state keeps its fingerprint and status, once in the inputs and once in
the outputs (where AWS differs, the outputs hold an object of what differs:
Entry); no PEM, no file name (the provider finds the PEM by
fingerprint under its group's path when it must register it). A shard's
``groups`` and ``unlisted`` travel as compact JSON text: one string property
instead of thousands of map entries, which the engine, its per-property log
and the SDK each walk on every call. Pulumi's display decodes JSON text, so
a diff still names each key that changed (`~ <fingerprint>: "INACTIVE" =>
"ACTIVE"`, or AWS's `{status: "ACTIVE", not_attached: ["telemetry"]}`
against the declared `"ACTIVE"`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from fleet.aws.status import CertificateStatus
from fleet.manifest.groups import GroupName, owned

OPERATIONS = ("check", "read", "create", "update", "delete")
SHARDS = "0123456789abcdef"  # one certificate resource per first hex digit, per account and region
ABSENT = "ABSENT"  # what a read reports for a declared certificate AWS does not have
USABLE = (CertificateStatus.ACTIVE, CertificateStatus.INACTIVE)
# A certificate as a shard's state keeps it: its status alone, or an object of what differs (Entry).
Stored = str | dict[str, Any]
_STORED_FIELDS = {"status", "not_attached", "also_attached", "thingless", "was_revoked"}


@dataclass(frozen=True)
class Spec:
    """A kind of resource."""

    name: str  # the resource type within module "fleet": CaPlacement -> fleet:CaPlacement
    replace_on: tuple[str, ...]  # inputs whose change means another AWS object
    delete_before_replace: bool
    actions: Mapping[str, frozenset[str]]  # operation -> the IAM actions it may call

    @property
    def token(self) -> str:
        return f"fleet:{self.name}"

    def replaces(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        return [key for key in self.replace_on if olds.get(key) != news.get(key)]


class Inputs:
    """Base of the typed inputs of a kind of resource (each a frozen dataclass)."""

    spec: ClassVar[Spec]

    @property
    def resource_name(self) -> str:
        raise NotImplementedError

    @property
    def place(self) -> tuple[str, str]:
        """(account id, region)."""
        values = dataclasses.asdict(self)  # type: ignore[call-overload]
        return str(values["account_id"]), str(values["region"])

    @property
    def where(self) -> str:
        values = dataclasses.asdict(self)  # type: ignore[call-overload]
        return f"account {values['account']} ({values['account_id']}), {values['region']}"

    def props(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload, no-any-return]

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> Self:
        """From stored properties (inputs or outputs); keys this version does not know are ignored,
        and a key Pulumi dropped (its value was None) takes its default."""
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {k: _typed(kinds[k], v) for k, v in props.items() if k in kinds}
        return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _typed(kind: Any, value: Any) -> Any:
    text = str(kind)
    if text.startswith("tuple") and isinstance(value, list):
        return tuple(value)
    if "GroupInputs" in text and isinstance(value, dict):
        return {name: GroupInputs.of(group) for name, group in value.items()}
    return value


def json_text(value: Mapping[str, Any]) -> str:
    """Compact JSON, keys sorted: equal declarations are equal text, byte for byte."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def from_json_text(text: str) -> dict[str, Any]:
    """A map stored as JSON text; TypeError when it is not one (a hand-edited state or plan)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise TypeError("not JSON text") from None
    if not isinstance(value, dict):
        raise TypeError("not a JSON object")
    return value


def actions(*names: str) -> frozenset[str]:
    return frozenset(f"iot:{name}" for name in names)


# --- CA placements --------------------------------------------------------------

CA_SPEC = Spec(
    name="CaPlacement",
    replace_on=("certificate_id", "account_id", "region", "mode"),
    # AWS refuses a second registration of one CA in one account and region: delete first.
    delete_before_replace=True,
    actions={
        "check": actions("DescribeCACertificate"),  # a placement new to the stack: its mode in AWS
        "read": actions("DescribeCACertificate"),
        "create": actions(
            "DescribeCACertificate", "GetRegistrationCode", "RegisterCACertificate", "UpdateCACertificate"
        ),
        "update": actions("DescribeCACertificate", "UpdateCACertificate"),
        "delete": actions(
            "DescribeCACertificate", "ListCertificatesByCA", "UpdateCACertificate", "DeleteCACertificate"
        ),
    },
)


@dataclass(frozen=True)
class CaPlacementInputs(Inputs):
    """One CA certificate registered in one account and region. The private key
    is a reference (a KMS key's ARN and the role to use it through, an
    environment variable or a file), never the key. A verification certificate
    signed offline is declared only while the CA is still to be registered,
    and never kept in the outputs."""

    spec: ClassVar[Spec] = CA_SPEC
    ca: str
    account: str
    account_id: str
    role_arn: str
    region: str
    certificate_pem: str
    certificate_id: str
    mode: str  # DEFAULT | SNI_ONLY
    status: str  # ACTIVE | INACTIVE (ABSENT: read found no such CA)
    auto_registration: str  # ENABLE | DISABLE
    registration_config: dict[str, str]
    source: str  # manifest file:line
    private_key: dict[str, str] | None = None  # Pulumi drops a property that is None: a default
    verification_certificate: str | None = None  # PEM, signed offline (fleet.providers.custody checked it)

    @property
    def resource_name(self) -> str:
        return f"{self.ca}.{self.account}.{self.region}"


# --- IoT policies -----------------------------------------------------------------

POLICY_SPEC = Spec(
    name="IotPolicy",
    replace_on=("policy", "account_id", "region"),
    delete_before_replace=False,
    actions={
        "read": actions("GetPolicy", "ListPolicyVersions", "ListTargetsForPolicy"),
        "create": actions(
            "GetPolicy", "CreatePolicy", "ListPolicyVersions", "DeletePolicyVersion", "CreatePolicyVersion"
        ),
        "update": actions(
            "GetPolicy", "ListPolicyVersions", "DeletePolicyVersion", "CreatePolicyVersion", "DetachPolicy"
        ),
        "delete": actions("ListPolicyVersions", "DeletePolicyVersion", "DeletePolicy"),
    },
)


@dataclass(frozen=True)
class PolicyInputs(Inputs):
    """One IoT policy in one account and region. Declared: no versions made by
    hand (unless they are kept: ``keep_other_versions``, and then a read does
    not report them), attached to no principal other than certificates (those
    belong to the certificate resources); a read reports what AWS has."""

    spec: ClassVar[Spec] = POLICY_SPEC
    policy: str
    account: str
    account_id: str
    role_arn: str
    region: str
    document: str  # compact JSON (ABSENT: read found no such policy)
    source: str
    versions_made_by_hand: tuple[str, ...] = ()
    other_principals: tuple[str, ...] = ()
    keep_other_versions: bool = False  # other_versions: keep (a default: states written before it lack it)

    @property
    def resource_name(self) -> str:
        return f"policy.{self.policy}.{self.account}.{self.region}"


# --- Device certificates ------------------------------------------------------------

# What bringing a shard's certificates to their declaration may call.
_CONVERGE = actions(
    "ListCertificates",
    "ListTargetsForPolicy",
    "DescribeCertificate",
    "DescribeCACertificate",
    "RegisterCertificate",
    "RegisterCertificateWithoutCA",
    "UpdateCertificate",
    "AttachPolicy",
    "DetachPolicy",
    "CreateThing",
    "AttachThingPrincipal",
    "ListAttachedPolicies",
    "ListPrincipalThings",
)
CERTIFICATES_SPEC = Spec(
    name="DeviceCertificates",
    replace_on=("account_id", "region", "shard"),
    delete_before_replace=False,
    actions={
        "read": actions("ListCertificates", "ListCertificatesByCA", "ListTargetsForPolicy"),
        "create": _CONVERGE,
        # An update also retires what the declaration no longer lists.
        "update": _CONVERGE | actions("DetachThingPrincipal", "DeleteCertificate"),
        "delete": actions(
            "ListCertificates",
            "UpdateCertificate",
            "ListAttachedPolicies",
            "DetachPolicy",
            "ListPrincipalThings",
            "DetachThingPrincipal",
            "DeleteCertificate",
        ),
    },
)


@dataclass(frozen=True)
class GroupInputs:
    """A group's certificates in one shard, with what they share."""

    ca: str | None  # the CA's name in the manifests; None: registered without a CA
    ca_id: str | None
    pem: str  # where its PEMs are: a file or a folder, relative to the project directory
    policies: tuple[str, ...]
    things: str  # none | common-name
    source: str  # manifest file:line
    certificates: dict[str, Stored]  # fingerprint -> its status (declared) or what AWS has (read): Entry

    def state(self) -> tuple[Any, ...]:
        """What of a group changes its certificates in AWS."""
        return tuple(sorted(self.policies)), self.things, self.ca_id

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> GroupInputs:
        if not isinstance(props, Mapping):
            raise TypeError("a group is a map")
        return cls(
            ca=props.get("ca"),
            ca_id=props.get("ca_id"),
            pem=str(props.get("pem") or ""),
            policies=tuple(props.get("policies") or ()),
            things=str(props.get("things") or "none"),
            source=str(props.get("source") or ""),
            certificates=dict(props.get("certificates") or {}),
        )


@dataclass(frozen=True)
class ShardInputs(Inputs):
    """The device certificates of one account and region whose fingerprint
    starts with ``shard``, by group. Also owned here: the attachments of the
    fleet's policies to certificates of this shard. Declared ``unlisted`` is
    empty; a read reports there the certificates of this shard that nothing
    declares but that sit under a managed CA (other than revoked), or hold a
    fleet policy."""

    spec: ClassVar[Spec] = CERTIFICATES_SPEC
    account: str
    account_id: str
    role_arn: str
    region: str
    shard: str
    policies: tuple[str, ...]  # every fleet policy in this account and region
    cas: tuple[str, ...]  # ids of every CA fleet places in this account and region
    groups: dict[str, GroupInputs] = field(default_factory=dict)
    unlisted: dict[str, Stored] = field(default_factory=dict)

    @property
    def resource_name(self) -> str:
        return f"certs.{self.account}.{self.region}.{self.shard}"

    def props(self) -> dict[str, Any]:
        """``groups`` and ``unlisted`` as compact JSON text (the module says why)."""
        plain = super().props()
        return {**plain, **{key: json_text(plain[key]) for key in JSON_TEXT}}

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> Self:
        """From either encoding: JSON text (``props``) or the nested maps of states written before it."""
        decoded = {key: from_json_text(props[key]) for key in JSON_TEXT if isinstance(props.get(key), str)}
        return super().of({**props, **decoded})

    def declared(self) -> dict[str, tuple[Stored, GroupInputs]]:
        """fingerprint -> (its status, or what a read found: Entry, its group)."""
        return {fp: (status, group) for group in self.groups.values() for fp, status in group.certificates.items()}

    def owns(self, group: GroupInputs) -> bool:
        """Whether fleet removes a certificate of this group from AWS once nothing declares
        it: by its kind (fleet.manifest.groups.owned, the one rule)."""
        return any(g is group and owned(GroupName.parse(name).kind) for name, g in self.groups.items())

    def work(self, had: ShardInputs | None) -> tuple[set[str], set[str]]:
        """What converging this declaration over ``had`` (the recorded or refreshed state;
        None on create) looks at in AWS: (the declared certificates that may need a change,
        the recorded ones to retire). The apply (fleet.providers.device_certificates) and
        `fleet review` both ask here, so the review reads AWS for exactly what the apply
        will read and change."""
        declared, recorded = self.declared(), (had.declared() if had is not None else {})
        todo = {
            fp
            for fp, (status, group) in declared.items()
            if fp not in recorded or recorded[fp][0] != status or recorded[fp][1].state() != group.state()
        }
        removed = {
            fp for fp, (_, group) in recorded.items() if fp not in declared and had is not None and had.owns(group)
        }
        return todo, removed


JSON_TEXT = ("groups", "unlisted")  # the ShardInputs properties stored as compact JSON text


def shard_of(fingerprint: str) -> str:
    return fingerprint[0]


@dataclass(frozen=True)
class Entry:
    """One certificate as a read reports it: AWS's status, where its fleet
    policies differ from its group's, and (for a group with ``things:
    common-name``) whether it lost its thing, and whether the state recorded
    it REVOKED while AWS no longer has it so (a refresh must not forget a
    revocation: the state is one of its memories).

    Stored typed (``stored``): a certificate as its declaration wants it is
    its status alone, the very text of the declared status, so the state
    stays small and an unchanged key is no diff; one that differs is an
    object of what differs: ``{"status": "ACTIVE", "not_attached":
    ["telemetry"]}``, ``{"status": "ABSENT", "was_revoked": true}``. A
    drifted key in a refreshed preview shows that object against the
    declared status. States written before kept one line of text (``ACTIVE;
    not attached: telemetry``, ``ABSENT; was REVOKED``); ``read`` takes
    those too, and ``text`` still says an entry so in messages."""

    status: str
    missing: tuple[str, ...] = ()  # group policies AWS does not have attached
    extra: tuple[str, ...] = ()  # fleet policies attached that the group does not want
    thingless: bool = False  # its group attaches it to a thing, and AWS has it attached to none
    was_revoked: bool = False  # the state recorded it REVOKED; AWS has it otherwise now

    @property
    def revoked(self) -> bool:
        """REVOKED in AWS, or in the state this entry was read over."""
        return self.status == CertificateStatus.REVOKED or self.was_revoked

    def stored(self) -> Stored:
        differs: dict[str, Any] = {}
        if self.missing:
            differs["not_attached"] = list(self.missing)
        if self.extra:
            differs["also_attached"] = list(self.extra)
        if self.thingless:
            differs["thingless"] = True
        if self.was_revoked:
            differs["was_revoked"] = True
        return {"status": str(self.status), **differs} if differs else str(self.status)

    @classmethod
    def read(cls, value: object) -> Entry:
        """From a state, a plan or a reading, in either shape; TypeError when it is neither (a hand-edited state)."""
        if isinstance(value, str):
            return cls._from_text(value)
        if not isinstance(value, Mapping) or not isinstance(value.get("status"), str) or set(value) - _STORED_FIELDS:
            raise TypeError(f"not a certificate's entry: {str(value)[:80]!r}")
        flags = [value.get(key, False) for key in ("thingless", "was_revoked")]
        if not all(isinstance(flag, bool) for flag in flags):
            raise TypeError(f"not a certificate's entry: {str(value)[:80]!r}")
        return cls(value["status"], _names(value, "not_attached"), _names(value, "also_attached"), *flags)

    def text(self) -> str:
        """One line, for people: ``INACTIVE; not attached: telemetry``, ``ABSENT; was REVOKED``."""
        parts = [str(self.status)]
        if self.missing:
            parts.append("not attached: " + ", ".join(self.missing))
        if self.extra:
            parts.append("also attached: " + ", ".join(self.extra))
        if self.thingless:
            parts.append(NO_THING)
        if self.was_revoked:
            parts.append(WAS_REVOKED)
        return "; ".join(parts)

    @classmethod
    def _from_text(cls, text: str) -> Entry:
        if "; " not in text:  # a status alone: nearly every entry
            return cls(text)
        status, *rest = text.split("; ")
        missing: tuple[str, ...] = ()
        extra: tuple[str, ...] = ()
        thingless = was_revoked = False
        for part in rest:
            if part == NO_THING:
                thingless = True
                continue
            if part == WAS_REVOKED:
                was_revoked = True
                continue
            label, _, names = part.partition(": ")
            values = tuple(n for n in names.split(", ") if n)
            if label == "not attached":
                missing = values
            elif label == "also attached":
                extra = values
        return cls(status, missing, extra, thingless, was_revoked)

    def remembering(self, recorded: Entry) -> Entry:
        """This entry as AWS has it, keeping the revocation ``recorded`` (the state) holds."""
        return dataclasses.replace(self, was_revoked=recorded.revoked and self.status != CertificateStatus.REVOKED)


def _names(value: Mapping[str, Any], key: str) -> tuple[str, ...]:
    names = value.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"not a certificate's entry: {key} is not a list of policy names")
    return tuple(names)


NO_THING = "no thing"
WAS_REVOKED = "was REVOKED"


# --- Just-in-time activation ----------------------------------------------------------

_JITR_READS = frozenset(
    {
        "lambda:GetFunctionConfiguration",
        "lambda:GetPolicy",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iot:GetTopicRule",
    }
)
_JITR_WRITES = frozenset(
    {
        "iam:CreateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PassRole",
        "lambda:CreateFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "iot:CreateTopicRule",
        "iot:ReplaceTopicRule",
        "iot:DeleteTopicRule",
    }
)
JITR_SPEC = Spec(
    name="JustInTimeActivation",
    replace_on=("account_id", "region"),
    delete_before_replace=False,
    actions={
        "read": _JITR_READS,
        "create": _JITR_READS | _JITR_WRITES,
        "update": _JITR_READS | _JITR_WRITES,
        "delete": _JITR_READS
        | {
            "iot:DeleteTopicRule",
            "lambda:DeleteFunction",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:DeleteRole",
        },
    },
)


@dataclass(frozen=True)
class JitrInputs(Inputs):
    """The just-in-time activation of one account and region (fleet.jitr.handler):
    the execution role, the function, the permission of each rule to invoke
    it, and one topic rule per CA placement with ``auto_activation``. Each part
    is a map of strings, so a read that finds a part changed by hand names the
    key (`~ function: {~ code_sha256: ...}`, `~ rules: {~ <rule>: {~ enabled:
    "false" => "true"}}`); a part AWS does not have reads as an empty map.
    The function's package is named by its digest (code_sha256); its
    configuration is inside it (fleet.jitr.package)."""

    spec: ClassVar[Spec] = JITR_SPEC
    account: str
    account_id: str
    role_arn: str  # the deployer's, as for every resource
    region: str
    source: str  # the manifest lines of the placements with auto_activation here
    role: dict[str, str] = field(default_factory=dict)  # trust, policy (compact JSON), others
    function: dict[str, str] = field(default_factory=dict)  # code_sha256, runtime, handler, role, timeout, ...
    permissions: dict[str, dict[str, str]] = field(default_factory=dict)  # statement id -> principal, source_arn...
    rules: dict[str, dict[str, str]] = field(default_factory=dict)  # rule name -> sql, enabled, actions

    @property
    def resource_name(self) -> str:
        return f"jitr.{self.account}.{self.region}"


SPECS: tuple[Spec, ...] = (CA_SPEC, POLICY_SPEC, CERTIFICATES_SPEC, JITR_SPEC)
INPUTS: dict[str, type[Inputs]] = {
    CA_SPEC.token: CaPlacementInputs,
    POLICY_SPEC.token: PolicyInputs,
    CERTIFICATES_SPEC.token: ShardInputs,
    JITR_SPEC.token: JitrInputs,
}
