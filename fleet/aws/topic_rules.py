"""AWS IoT topic rule calls for the just-in-time function's rules, in fleet's terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet.aws.errors import Conflict, NotFound, calling

SQL_VERSION = "2016-03-23"


@dataclass(frozen=True)
class RuleState:
    sql: str
    enabled: bool
    actions: tuple[str, ...]  # "lambda:<function ARN>" for a Lambda action, else the action's kind


class TopicRules:
    """The topic rules of one account and region."""

    def __init__(self, iot: Any, where: str):
        self._iot = iot
        self._where = where

    def get(self, name: str) -> RuleState | None:
        try:
            with calling(f"reading topic rule {name} in {self._where}"):
                rule = self._iot.get_topic_rule(ruleName=name)["rule"]
        except NotFound:
            return None
        actions = []
        for action in rule.get("actions") or []:
            for kind, settings in action.items():
                actions.append(f"lambda:{settings.get('functionArn', '')}" if kind == "lambda" else kind)
        return RuleState(rule.get("sql", ""), not rule.get("ruleDisabled", False), tuple(sorted(actions)))

    def put(self, name: str, sql: str, function_arn: str, exists: bool) -> None:
        """Create it, or replace it whole (SQL, action, enabled) when it ``exists``."""
        payload = {
            "sql": sql,
            "awsIotSqlVersion": SQL_VERSION,
            "ruleDisabled": False,
            "actions": [{"lambda": {"functionArn": function_arn}}],
        }
        if exists:
            with calling(f"replacing topic rule {name} in {self._where}"):
                self._iot.replace_topic_rule(ruleName=name, topicRulePayload=payload)
            return
        try:
            with calling(f"creating topic rule {name} in {self._where}"):
                self._iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
        except Conflict:
            with calling(f"replacing topic rule {name} in {self._where}"):
                self._iot.replace_topic_rule(ruleName=name, topicRulePayload=payload)

    def delete(self, name: str) -> None:
        try:
            with calling(f"deleting topic rule {name} in {self._where}"):
                self._iot.delete_topic_rule(ruleName=name)
        except NotFound:
            return
