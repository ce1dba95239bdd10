"""All of fleet's fixes to moto, applied together before the server starts."""

from __future__ import annotations

from localaws import ca_fixes, certificate_fixes, cloudformation_fixes, kms_fixes, lambda_fixes


def apply() -> None:
    ca_fixes.apply()
    certificate_fixes.apply()
    cloudformation_fixes.apply()
    kms_fixes.apply()
    lambda_fixes.apply()
