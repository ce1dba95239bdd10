"""Refuse credentials this endpoint did not issue, as AWS refuses an unknown access key.

moto answers a request signed with an access key it does not know as its
default account (123456789012): credentials an earlier endpoint issued (the
AWS CLI caches assumed-role credentials in ~/.aws/cli/cache for an hour)
would silently list another account's empty IoT registry. With this
middleware (``--accept-access-key``) a signed request passes only when its
access key is one of the accepted base keys or one this endpoint's STS (or
IAM) issued since it started; any other gets AWS's answer to an unknown key,
HTTP 403 with ``InvalidClientTokenId`` (query protocol: STS, IAM,
CloudFormation), ``UnrecognizedClientException`` (JSON protocols: IoT) or
``InvalidAccessKeyId`` (S3), and the hint the endpoint was started with.

https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html
(InvalidClientTokenId, UnrecognizedClientException: "The X.509 certificate
or AWS access key ID provided does not exist in our records", HTTP 403);
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
(InvalidAccessKeyId, 403).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.iam.models import iam_backends
from moto.utilities.utils import PARTITION_NAMES

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/aws4_request")
UNKNOWN_KEY = "The security token included in the request is invalid"


def signed_by(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(access key id, service) of a SigV4-signed request (header or presigned URL); None if unsigned."""
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found is None:
        presigned = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
        found = _CREDENTIAL.search(f"Credential={presigned}")
    return (found[1], found[2]) if found else None


def issued(access_key: str) -> bool:
    """Whether this endpoint's STS or IAM made the key (moto keeps both in its IAM backends)."""
    for _account_id, account in list(iam_backends.items()):  # a copy: other threads add accounts
        for partition in PARTITION_NAMES:
            if access_key in account[partition].access_keys:
                return True
    return False


class IssuedOnly:
    """WSGI middleware: signed requests with an access key neither accepted nor issued here are refused."""

    def __init__(self, app: Callable[..., Iterable[bytes]], accepted: Iterable[str], hint: str = ""):
        self.app = app
        self.accepted = frozenset(accepted)
        self.hint = hint

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        signer = signed_by(environ)
        if signer is None or signer[0] in self.accepted or issued(signer[0]):
            return self.app(environ, start_response)
        access_key, service = signer
        message = (
            f"{UNKNOWN_KEY}: this local endpoint did not issue access key {access_key} (credentials of "
            "an endpoint that has ended, with everything it held?)" + (f". {self.hint}" if self.hint else "")
        )
        return _refusal(environ, service, message, start_response)


def _refusal(environ: dict[str, Any], service: str, message: str, start_response: Callable[..., Any]) -> list[bytes]:
    if service == "s3":
        body = (f"<Error><Code>InvalidAccessKeyId</Code><Message>{escape(message)}</Message></Error>").encode()
        headers = [("Content-Type", "application/xml")]
    elif _query_protocol(environ):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
            f"<Message>{escape(message)}</Message></Error></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    else:  # JSON protocols: the code travels in a header and in the body
        body = json.dumps({"__type": "UnrecognizedClientException", "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "UnrecognizedClientException")]
    start_response("403 Forbidden", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _query_protocol(environ: dict[str, Any]) -> bool:
    """STS, IAM, CloudFormation: form-encoded POSTs (or GETs) naming an Action."""
    return "Action=" in environ.get("QUERY_STRING", "") or environ.get("CONTENT_TYPE", "").startswith(
        "application/x-www-form-urlencoded"
    )
