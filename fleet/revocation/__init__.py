"""The one rule fleet never bends: a revoked certificate is never reactivated.

Wording shared by every place that enforces it: the ledger's check when the
manifests load (fleet.manifest.ledger_rules), the program's guard (AWS's
records and the stacks' recorded state: fleet.revocation.guard) and the
certificate provider (its recorded state, at diff and before every write).
"""

from __future__ import annotations

from collections.abc import Mapping


class RevocationRefused(Exception):
    """The manifests would make a revoked certificate usable again."""


def refusal(fingerprint: str, wanted: Mapping[str, str], revoked_where: str, revoked_on: str | None) -> str:
    when = f"on {revoked_on}" if revoked_on else "at an unknown date"
    return (
        f"certificate {fingerprint} ({wanted.get('file', '?')}) is declared {wanted['status']} at "
        f"{wanted.get('source', '?')}, but it was revoked {when} in {revoked_where}; a revoked certificate is never "
        f"reactivated. Adopt the revocation: set it REVOKED in the manifests, with its revocation (reason, date)."
    )
