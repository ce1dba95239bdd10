"""Device Defender's policy checks on IoT policy documents, as AWS IoT reads them.

AWS IoT matches a policy's Action and Resource like IAM: `*` stands for any
characters, `?` for one, and MQTT's `+` and `#` are plain characters
(https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-variables.html).
Policy variables (`${iot:Connection.Thing.ThingName}`) stand for the
connecting device's own values. A request is allowed when an Allow statement
matches it and no Deny statement does.

Where Device Defender's rule is given by examples rather than an algorithm,
fleet asks of each policy, per account and region, whether it lets one device
reach another device's data: it probes the documented noncompliant cases
(each listed in PROBES) with a thing name that is not the device's own.
fleet does not evaluate conditions. A statement conditioned on who the
device is (its thing's name, type or attributes, its client ID, its
certificate) is not taken as granting anything, so it is never reported. A
condition on anything else (source IP, time, TLS, the domain) still lets
every device that meets it reach every other device's data: such a statement
is probed as if it had none. iot:Connection.Thing.IsAttached limits Connect
alone (the client ID must name a thing attached to the certificate: the
documented compliant Connect), so it makes a Connect the device's own and
leaves every other action as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleet.audit.findings import Finding, Location, Place
from fleet.audit.inventory import PolicyRecord

OTHER = "another-device"  # a thing, client and job that are not the connecting device's own
SELF = "\x00self\x00"  # what a policy variable becomes: the connecting device's own value
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
VARIABLE = re.compile(r"\$\{([^}]*)\}")

# IOT_POLICY_OVERLY_PERMISSIVE_CHECK's noncompliant examples, as (action, resource, what it lets a device do):
# https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-iot-policy-permissive.html
# ("MQTT permissions" and "Shadow and job permissions"; Receive is compliant there, so it is not probed).
PROBES = (
    ("iot:Connect", f"client/{OTHER}", "connect with any client ID"),
    ("iot:Publish", f"topic/$aws/things/{OTHER}/shadow/update", "update any device's shadow"),
    # The same data through the other reserved topics of a shadow (named ones too) and of a job
    # (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html).
    ("iot:Publish", f"topic/$aws/things/{OTHER}/shadow/delete", "delete any device's shadow"),
    ("iot:Publish", f"topic/$aws/things/{OTHER}/shadow/name/{OTHER}/update", "update any device's named shadows"),
    ("iot:Publish", f"topic/$aws/things/{OTHER}/jobs/get", "read or update any device's jobs"),
    ("iot:Subscribe", f"topicfilter/$aws/things/{OTHER}/shadow/update/accepted", "watch any device's shadow"),
    (
        "iot:Subscribe",
        f"topicfilter/$aws/things/{OTHER}/shadow/name/{OTHER}/update/accepted",
        "watch any device's named shadows",
    ),
    ("iot:Subscribe", f"topicfilter/$aws/things/{OTHER}/jobs/notify-next", "watch any device's jobs"),
    ("iot:Subscribe", "topicfilter/$aws/things/+/shadow/update", "watch every device's shadow (+)"),
    ("iot:Subscribe", "topicfilter/$aws/things/#", "watch every device's shadow and jobs (#)"),
    *(
        (f"iot:{action}", f"thing/{OTHER}", f"call {action} on any thing")
        for action in (
            "GetThingShadow",
            "UpdateThingShadow",
            "DeleteThingShadow",
            "DescribeJobExecution",
            "GetPendingJobExecutions",
            "StartNextPendingJobExecution",
            "UpdateJobExecution",
        )
    ),
)


@dataclass(frozen=True)
class Statement:
    index: int
    allow: bool
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditioned: bool  # on who the device is (or a Condition fleet cannot read): not probed
    attached_only: bool  # Condition iot:Connection.Thing.IsAttached is "true"

    def matches(self, action: str, arn: str, connect: bool = False) -> bool:
        if self.actions and not any(_glob(a.lower()).fullmatch(action.lower()) for a in self.actions):
            return False
        if self.not_actions and any(_glob(a.lower()).fullmatch(action.lower()) for a in self.not_actions):
            return False
        # ${iot:ClientId} in a Connect resource is whatever the device sends, unless the statement requires the
        # client ID to name a thing attached to the certificate (audit-chk-iot-policy-permissive.html, "Connect").
        client_id = "*" if connect and not self.attached_only else SELF
        if self.resources and not any(_resource(r, client_id).fullmatch(arn) for r in self.resources):
            return False
        return not (self.not_resources and any(_resource(r, client_id).fullmatch(arn) for r in self.not_resources))


def statements(document: Any) -> list[Statement]:
    found = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(found, dict):
        found = [found]
    result = []
    for index, raw in enumerate(found if isinstance(found, list) else []):
        if not isinstance(raw, dict):
            continue
        condition = raw.get("Condition")
        result.append(
            Statement(
                index=index,
                allow=raw.get("Effect") == "Allow",
                actions=_strings(raw.get("Action")),
                not_actions=_strings(raw.get("NotAction")),
                resources=_strings(raw.get("Resource")),
                not_resources=_strings(raw.get("NotResource")),
                conditioned=_on_identity(condition),
                attached_only=_attached_only(condition),
            )
        )
    return result


def _strings(value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(v for v in values if isinstance(v, str))


# Condition keys that tie a request to the device making it
# (https://docs.aws.amazon.com/iot/latest/developerguide/iot-policy-actions.html and the policy variables page).
IDENTITY_KEYS = ("iot:connection.thing.", "iot:clientid", "iot:certificate.")
ATTACHED = "iot:connection.thing.isattached"


def _on_identity(condition: Any) -> bool:
    if condition is None:
        return False
    if not isinstance(condition, dict) or not all(isinstance(tests, dict) for tests in condition.values()):
        return True  # not a Condition fleet reads: taken as restricting, never reported
    return any(
        key.lower() != ATTACHED and key.lower().startswith(IDENTITY_KEYS)
        for tests in condition.values()
        for key in map(str, tests)
    )


def _attached_only(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        if str(operator).startswith("Bool") and isinstance(tests, dict):
            value = tests.get("iot:Connection.Thing.IsAttached")
            if value == "true" or value is True or value == ["true"]:
                return True
    return False


_GLOBS: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM-style pattern: `*` any characters, `?` one; everything else (MQTT's `+` and `#`) literal."""
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        compiled = re.compile(
            "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL
        )
        _GLOBS[pattern] = compiled
    return compiled


def _resource(pattern: str, client_id: str) -> re.Pattern[str]:
    def value(match: re.Match[str]) -> str:
        name = match[1]
        special = {"*": "\x01", "?": "\x02", "$": "$"}  # ${*} ${?} ${$}: the characters themselves
        if name in special:
            return special[name]
        return client_id if name == "iot:ClientId" else SELF

    substituted = VARIABLE.sub(value, pattern)
    compiled = _glob(substituted)
    if "\x01" in substituted or "\x02" in substituted:  # literal * and ? from ${*} ${?}
        compiled = re.compile(
            compiled.pattern.replace("\x01", re.escape("*")).replace("\x02", re.escape("?")), re.DOTALL
        )
    return compiled


def allowed(rules: list[Statement], action: str, arn: str) -> Statement | None:
    """The Allow statement that grants ``action`` on ``arn`` to any device (the module says which conditions
    count), unless a Deny matches it. ``arn`` names another device's resource."""
    connect = action.lower() == "iot:connect"
    if any(not s.allow and s.matches(action, arn, connect) for s in rules):
        return None
    return next(
        (
            s
            for s in rules
            if s.allow and not s.conditioned and not (connect and s.attached_only) and s.matches(action, arn, connect)
        ),
        None,
    )


def _arns(place: Place, suffix: str) -> Iterator[str]:
    for partition in PARTITIONS:
        yield f"arn:{partition}:iot:{place.region}:{place.account_id}:{suffix}"


def _granted(rules: list[Statement], action: str, place: Place, suffix: str) -> Statement | None:
    for arn in _arns(place, suffix):
        granting = allowed(rules, action, arn)
        if granting is not None:
            return granting
    return None


def check(policies: tuple[PolicyRecord, ...]) -> list[Finding]:
    merged: dict[tuple[str, str, str], Finding] = {}
    for policy in policies:
        rules = statements(policy.document)
        for finding in (*_overly_permissive(policy, rules), *_misconfigured(policy, rules)):
            known = merged.get(finding.key)
            if known is None:
                merged[finding.key] = finding
            else:  # the same finding in the document of other places
                places = tuple(sorted({*known.places, *finding.places}, key=str))
                merged[finding.key] = Finding(
                    known.check, known.resource, known.message, known.location, places, known.reason_code
                )
    return list(merged.values())


def _at(policy: PolicyRecord, statement: int) -> Location:
    if statement < len(policy.statement_lines):
        return Location(policy.location.file, policy.statement_lines[statement])
    return policy.location


def _overly_permissive(policy: PolicyRecord, rules: list[Statement]) -> Iterator[Finding]:
    """IOT_POLICY_OVERLY_PERMISSIVE_CHECK, critical (reason ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS): the
    policy lets a device connect as any client, or reach other devices' shadows and jobs (PROBES).
    https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-iot-policy-permissive.html"""
    broad: dict[int, list[str]] = {}
    places: set[Place] = set()
    for place in policy.places:
        for action, suffix, what in PROBES:
            granting = _granted(rules, action, place, suffix)
            if granting is not None:
                if what not in broad.setdefault(granting.index, []):
                    broad[granting.index].append(what)
                places.add(place)
    if broad:
        first = min(broad)
        said = "; ".join(f"Statement[{i}] lets a device {', '.join(whats)}" for i, whats in sorted(broad.items()))
        yield Finding(
            "IOT_POLICY_OVERLY_PERMISSIVE_CHECK",
            f"policy:{policy.name}",
            f"policy {policy.name}: {said}. Restrict each resource to the device's own "
            "(${iot:Connection.Thing.ThingName}, with iot:Connection.Thing.IsAttached for Connect)",
            _at(policy, first),
            tuple(sorted(places, key=str)),
            "ALLOWS_BROAD_ACCESS_TO_IOT_DATA_PLANE_ACTIONS",
        )


def _topic_part(resource: str) -> str | None:
    """ "arn:aws:iot:r:a:topicfilter/x/#" -> "topicfilter/x/#"; None for a resource that is not a topic."""
    tail = resource.split(":", 5)[-1] if resource.startswith("arn:") else resource
    return tail if tail.startswith(("topic/", "topicfilter/")) else None


def _misconfigured(policy: PolicyRecord, rules: list[Statement]) -> Iterator[Finding]:
    """IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK, medium.
    https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-iot-misconfigured-policies.html
    - POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT: a Deny whose topic or topic filter holds `+` or `#`,
      which AWS IoT reads literally, so the Deny misses what it meant.
    - TOPIC_FILTERS_INTENDED_TO_DENY_ALLOWED_USING_WILDCARDS: a Deny of iot:Subscribe to a topic filter that a
      wider MQTT filter still reaches (the Allow lets a device subscribe to `building/#`), with iot:Receive of
      those topics allowed and not denied."""
    literal = [
        (s.index, r)
        for s in rules
        if not s.allow
        for r in s.resources
        if (part := _topic_part(r)) is not None and ("+" in part or "#" in part)
    ]
    if literal:
        index, resource = literal[0]
        yield Finding(
            "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
            f"policy:{policy.name}",
            f"policy {policy.name}: Statement[{index}] denies {resource}, but AWS IoT policies read `+` and "
            "`#` literally, so it denies only that exact name; use `*`, and deny iot:Receive of the topics",
            _at(policy, index),
            policy.places,
            "POLICY_CONTAINS_MQTT_WILDCARDS_IN_DENY_STATEMENT",
        )
    leak = _wildcard_leak(policy, rules)
    if leak is not None:
        index, denied, wider, places = leak
        yield Finding(
            "IOT_POLICY_POTENTIAL_MISCONFIGURATION_CHECK",
            f"policy:{policy.name}",
            f"policy {policy.name}: Statement[{index}] denies subscribing to {denied}, but a device may "
            f"subscribe to {wider} and receive those topics anyway; deny iot:Receive of them too",
            _at(policy, index),
            places,
            "TOPIC_FILTERS_INTENDED_TO_DENY_ALLOWED_USING_WILDCARDS",
        )


def _wildcard_leak(policy: PolicyRecord, rules: list[Statement]) -> tuple[int, str, str, tuple[Place, ...]] | None:
    for statement in rules:
        if statement.allow or not any(_glob(a.lower()).fullmatch("iot:subscribe") for a in statement.actions):
            continue
        for resource in statement.resources:
            part = _topic_part(resource)
            if part is None or not part.startswith("topicfilter/") or "+" in part or "#" in part:
                continue
            levels = VARIABLE.sub(SELF, part.removeprefix("topicfilter/")).split("/")
            topic = "topic/" + "/".join("data1" if level == "*" else level.replace("*", "x") for level in levels)
            places = []
            wider_found = ""
            for place in policy.places:
                for wider in _wider_filters(levels):
                    if _granted(rules, "iot:Subscribe", place, f"topicfilter/{wider}") and _granted(
                        rules, "iot:Receive", place, topic
                    ):
                        places.append(place)
                        wider_found = wider_found or wider
                        break
            if places:
                return statement.index, part.removeprefix("topicfilter/"), wider_found, tuple(places)
    return None


def _wider_filters(levels: list[str]) -> Iterator[str]:
    """MQTT filters that reach the topics of ``levels``: an ancestor with `#`, or one level as `+`."""
    for cut in range(len(levels) - 1, -1, -1):
        yield "/".join([*levels[:cut], "#"])
    for index in range(len(levels)):
        yield "/".join([*levels[:index], "+", *levels[index + 1 :]])
