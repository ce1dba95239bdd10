"""fleet's fix to moto's Lambda: a function's deployment package can be downloaded.

GetFunction answers ``Code.Location``, "a presigned URL that you can use to
download the deployment package" (docs.aws.amazon.com/lambda/latest/api/
API_FunctionCodeLocation.html). moto 5.2.5 answers an S3 address on AWS's
own host that serves nothing, so a test could not read back what fleet
deployed (moto cannot run a function without Docker: the tests run the
handler from the package they download). Here Location is this endpoint's
own ``/_localaws/lambda-code/ACCOUNT/REGION/NAME``, which serves the zip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.awslambda import models

PATH = re.compile(r"^/_localaws/lambda-code/(\d{12})/([a-z0-9-]+)/([A-Za-z0-9_-]+)$")
_base_url: list[str] = []  # the endpoint's own address, once it listens


def apply() -> None:
    original = models.LambdaFunction.get_code

    def get_code(self: Any) -> dict[str, Any]:
        answer: dict[str, Any] = original(self)
        if "S3Key" in self.code and _base_url and "Location" in answer.get("Code", {}):
            answer["Code"]["Location"] = (
                f"{_base_url[0]}/_localaws/lambda-code/{self.account_id}/{self.region}/{self.function_name}"
            )
        return answer

    models.LambdaFunction.get_code = get_code


def listening_at(url: str) -> None:
    _base_url[:] = [url]


class CodeApp:
    """WSGI middleware: serves the packages (GET PATH), passes everything else on."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = PATH.match(environ.get("PATH_INFO", ""))
        if found is None or environ.get("REQUEST_METHOD") != "GET" or not _base_url:
            return self.app(environ, start_response)
        account_id, region, name = found.groups()
        try:
            body = bytes(models.lambda_backends[account_id][region].get_function(name).code_bytes)
        except Exception:  # noqa: BLE001 (moto's not-found is its own exception type: any miss is a 404)
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        start_response("200 OK", [("Content-Type", "application/zip"), ("Content-Length", str(len(body)))])
        return [body]
