"""A certificate as the just-in-time decision reads it (fleet.jitr.activation.Presented),
read in pure Python with asn1crypto.

The Lambda runs on AWS's Python runtime, which has boto3 but no cryptography;
the cryptography installed with fleet is compiled for the deployer's Python
(its cffi backend for one CPython version), so it cannot travel in the
function's package. The signature is not checked here: the handler acts only
on a certificate AWS registered under the CA, which AWS does only after
verifying the CA signed it (tests/unit/test_jitr_package.py shows both
readers agree on every field).
"""

from __future__ import annotations

import datetime
import hashlib

from asn1crypto import pem, x509

from fleet.jitr.activation import Presented


def presented(certificate_pem: str) -> Presented | str:
    """The certificate, or why it cannot be read (in the decision's words)."""
    try:
        data = certificate_pem.encode()
        der = pem.unarmor(data)[2] if pem.detect(data) else data
        cert = x509.Certificate.load(der, strict=True)
        validity = cert["tbs_certificate"]["validity"]
        return Presented(
            hashlib.sha256(der).hexdigest(),
            int(cert.serial_number),
            bool(cert.ca),
            _utc(validity["not_before"].native),
            _utc(validity["not_after"].native),
        )
    except (ValueError, TypeError, KeyError) as error:
        return f"its PEM cannot be read ({error})"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)
