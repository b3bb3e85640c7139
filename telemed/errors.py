"""Domain errors raised by services.

Transport code maps each class to a status code in one place (``telemed.http.errors`` for
HTTP, the realtime error path for Socket.IO); services never speak HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldProblem:
    field: str
    message: str
    # A stable name for the problem, for clients that explain it in the user's language.
    code: str | None = None


class DomainError(Exception):
    code = "error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class AuthenticationRequired(DomainError):
    code = "authentication_required"
    default_message = "Sign in to continue."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    default_message = "Wrong username or password."


class RetryLater(DomainError):
    """Refused for now: the client may try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyAttempts(RetryLater):
    code = "too_many_attempts"
    default_message = "Too many failed sign-ins. Try again later."


class CsrfRejected(DomainError):
    code = "csrf_rejected"
    default_message = "Missing or wrong X-CSRF-Token header."


class Forbidden(DomainError):
    code = "forbidden"
    default_message = "You are not allowed to do this."


class WrongPassword(Forbidden):
    """The current password given to confirm a change is wrong (the session stays)."""

    code = "wrong_password"
    default_message = "The current password is wrong."


class StepUpRequired(Forbidden):
    """Signing needs the password re-entered recently in this session (a step-up)."""

    code = "step_up_required"
    default_message = "Confirm your password to sign."


class NotFound(DomainError):
    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    code = "conflict"
    default_message = "The request conflicts with the current state."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message)
        # Machine-readable context for the client, such as the case's current status.
        self.details = details


class AlreadyExists(Conflict):
    """A username, facility code or council code that is already taken."""

    code = "already_exists"
    default_message = "This name is already taken."


class RecordAltered(Conflict):
    """A signed decision or a note no longer matches the hash recorded when it was stored:
    nothing is produced from it (minutes, FHIR) until an administrator has looked."""

    code = "record_altered"
    default_message = "A signed record of this case was changed after it was stored."


class ValidationFailed(DomainError):
    code = "validation_error"
    default_message = "The request is not valid."

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems
        if message is None and problems:
            message = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(message)


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    default_message = "This type of content is not accepted."


class ServiceUnavailable(RetryLater):
    code = "unavailable"
    default_message = "The server is busy. Try again shortly."


class TimedOut(DomainError):
    code = "timeout"
    default_message = "The work took too long and was stopped."


@dataclass
class ErrorBody:
    """The one error shape: ``{"error": {"code", "message", ...}}``."""

    code: str
    message: str
    extra: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}
