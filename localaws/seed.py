"""Put many certificates into the local endpoint at once, as if registered long ago.

The benchmark seeds 10^5 certificates this way (``POST /_localaws/seed``),
then lets fleet adopt them: registering them one call at a time would measure
the endpoint, not fleet. Each seed is one account and region: a CA
(registered SNI_ONLY if missing), device certificates under it with a status,
and a policy attached to each of them. It goes through the same backend
methods the API calls use, fixes included.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from moto.iot.models import iot_backends

PATH = "/_localaws/seed"


def seed(request: dict[str, Any]) -> dict[str, int]:
    backend = iot_backends[request["account_id"]][request["region"]]
    ca_pem: str = request["ca_pem"]
    if backend._find_ca_certificate(ca_pem) is None:  # noqa: SLF001 (moto's own lookup)
        backend.register_ca_certificate(
            ca_certificate=ca_pem, set_as_active=True, registration_config={}, certificate_mode="SNI_ONLY"
        )
    policy = request.get("policy")
    if policy and policy["name"] not in backend.policies:
        backend.create_policy(policy_name=policy["name"], policy_document=policy["document"])
    status = request.get("status", "ACTIVE")
    for pem in request["certificates"]:
        certificate = backend.register_certificate(
            certificate_pem=pem, ca_certificate_pem=ca_pem, set_as_active=status == "ACTIVE", status=status
        )
        if policy:
            backend.attach_policy(policy["name"], certificate.arn)
    return {"certificates": len(backend.certificates)}


class SeedApp:
    """WSGI middleware: serves PATH, passes everything else on."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.dumps(seed(json.loads(environ["wsgi.input"].read(length)))).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
