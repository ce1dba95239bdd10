"""AWS errors, translated once at the boto3 boundary into fleet's few kinds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class AwsError(Exception):
    """An AWS call failed. The message says what fleet was doing and what AWS said;
    ``code`` is AWS's error code."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class NotFound(AwsError):
    pass


class Conflict(AwsError):
    """The object exists already, or is still in use."""


class RuleViolation(AwsError):
    """AWS refused the request as invalid for the object's state or its rules."""


class Throttled(AwsError):
    """Still throttled after botocore's retries."""


class AccessDenied(AwsError):
    pass


class Unavailable(AwsError):
    """The endpoint failed or could not be reached; the next run converges."""


KINDS: dict[str, type[AwsError]] = {
    "ResourceNotFoundException": NotFound,
    "NoSuchEntity": NotFound,
    "ResourceAlreadyExistsException": Conflict,
    "ResourceConflictException": Conflict,
    "EntityAlreadyExists": Conflict,
    "CertificateConflictException": Conflict,
    "DeleteConflictException": Conflict,
    "CertificateStateException": RuleViolation,
    "CertificateValidationException": RuleViolation,
    "RegistrationCodeValidationException": RuleViolation,
    "InvalidRequestException": RuleViolation,
    "LimitExceededException": RuleViolation,
    "VersionsLimitExceededException": RuleViolation,
    "MalformedPolicyException": RuleViolation,
    "MalformedPolicyDocument": RuleViolation,
    "InvalidParameterValueException": RuleViolation,
    "ThrottlingException": Throttled,
    "TooManyRequestsException": Throttled,
    "Throttling": Throttled,
    "UnauthorizedException": AccessDenied,
    "AccessDeniedException": AccessDenied,
    "AccessDenied": AccessDenied,
    "ExpiredToken": AccessDenied,
    "InternalFailureException": Unavailable,
    "ServiceUnavailableException": Unavailable,
    # AWS KMS (a CA key fleet asks to sign): API_GetPublicKey.html, API_Sign.html
    "NotFoundException": NotFound,
    "DisabledException": RuleViolation,
    "KMSInvalidStateException": RuleViolation,
    "InvalidKeyUsageException": RuleViolation,
    "KeyUnavailableException": Unavailable,
    "KMSInternalException": Unavailable,
    "DependencyTimeoutException": Unavailable,
}


RETRIED = " (retried for up to FLEET_AWS_RETRY_SECONDS)"
_calls = threading.local()  # the API operation this thread called last: a lost connection does not name it


def note_operation(model: Any, **_: Any) -> None:
    """A ``before-call`` hook: remembers the operation, for the message if AWS cannot be reached."""
    _calls.operation = model.name


THROTTLED = ("ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded")


def translate(error: ClientError, doing: str) -> AwsError:
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    kind = KINDS.get(code, AwsError)
    said = f"{doing}: AWS said {code} to {error.operation_name}: {message}".rstrip(": ")
    return kind(said + (RETRIED if kind is Unavailable or code in THROTTLED else ""), code)


@contextmanager
def calling(doing: str) -> Iterator[None]:
    """Run AWS calls; re-raise their errors as fleet's kinds, saying ``doing``.
    Throttling and outages reach here only once fleet.aws.retry's time budget
    is spent."""
    try:
        yield
    except ClientError as error:
        raise translate(error, doing) from error
    except BotoCoreError as error:
        operation = getattr(_calls, "operation", None)
        to = f" ({operation})" if operation else ""
        raise Unavailable(f"{doing}: AWS could not be reached{to}: {error}{RETRIED}") from error
