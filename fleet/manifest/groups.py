"""The kinds of certificate group fleet declares in a place, and the one rule of
which are fleet's to remove from AWS.

Every kind comes from the manifests: a certificate group (MANIFEST), the
revocation ledger's REVOKED records kept in a place (LEDGER: one group per CA
the ledger names that is placed there, else one without a CA), and the
registrations a CA placement's ``auto_activation`` took in (AUTOMATIC).

The state records a shard's groups by name only (fleet.model.declarations), so the
kind travels in the name, as it always has: ``ledger`` or ``ledger:<CA>``,
``auto:<CA>``, and a manifest group's own name (manifest names are
[a-z0-9-], so no manifest group can be mistaken for the others). Names are
made by ``group_name`` and read by ``GroupName.parse`` only: nothing else
looks at a prefix. States written by earlier versions read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LEDGER_GROUP = "ledger"  # the ledger's group name, alone or before ":<CA>"
AUTO_GROUP = "auto:"  # before the CA's name: just-in-time registrations auto_activation took in


class GroupKind(StrEnum):
    MANIFEST = "manifest"  # a certificate group of the manifests
    LEDGER = "ledger"  # certificates the revocation ledger keeps REVOKED in this place
    AUTOMATIC = "automatic"  # registrations auto_activation took in under a CA


def owned(kind: GroupKind) -> bool:
    """Whether fleet removes a certificate of a group of this kind from AWS once nothing
    declares it: the one rule, asked by the device-certificate provider (its updates and
    deletes, through fleet.model.declarations.ShardInputs.owns) and by `fleet review` alike.
    Only manifest groups: those auto_activation took in are devices in use, and the
    ledger's are REVOKED records that only grow (removing one would let the certificate
    be registered again)."""
    return kind is GroupKind.MANIFEST


@dataclass(frozen=True)
class GroupName:
    """A group's name in a shard, read: its kind, and the manifest group or CA it names."""

    kind: GroupKind
    name: str | None = None  # MANIFEST: the group's name; LEDGER, AUTOMATIC: the CA's, or None

    @classmethod
    def parse(cls, text: str) -> GroupName:
        if text == LEDGER_GROUP:
            return cls(GroupKind.LEDGER)
        if text.startswith(LEDGER_GROUP + ":"):
            return cls(GroupKind.LEDGER, text.removeprefix(LEDGER_GROUP + ":"))
        if text.startswith(AUTO_GROUP):
            return cls(GroupKind.AUTOMATIC, text.removeprefix(AUTO_GROUP))
        return cls(GroupKind.MANIFEST, text)

    def __str__(self) -> str:
        return group_name(self.kind, self.name)

    @property
    def label(self) -> str:
        """As `fleet review` names the group."""
        if self.kind is GroupKind.LEDGER:
            return "revocation ledger" + (f" (CA {self.name})" if self.name else "")
        if self.kind is GroupKind.AUTOMATIC:
            return f"auto_activation under {self.name}"
        return str(self.name)


def group_name(kind: GroupKind, name: str | None = None) -> str:
    """The name a group of this kind has in a shard (``name``: the manifest group's, or the CA's)."""
    if kind is GroupKind.LEDGER:
        return LEDGER_GROUP + (f":{name}" if name else "")
    if kind is GroupKind.AUTOMATIC:
        if not name:
            raise ValueError("an auto_activation group names its CA")
        return AUTO_GROUP + name
    if not name:
        raise ValueError("a manifest group has a name")
    return name
