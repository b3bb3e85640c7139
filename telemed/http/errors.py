"""The one place that turns errors into responses.

Under ``/api`` every error is JSON ``{"error": {"code", "message"}}``; pages get a short
HTML error page. Unexpected exceptions are logged with the request id and answered 500
without a trace.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from telemed.errors import (
    AuthenticationRequired,
    Conflict,
    CsrfRejected,
    DomainError,
    ErrorBody,
    Forbidden,
    InvalidCredentials,
    NotFound,
    PayloadTooLarge,
    RetryLater,
    ServiceUnavailable,
    TimedOut,
    TooManyAttempts,
    UnsupportedMediaType,
    ValidationFailed,
)
from telemed.logs import request_id_var
from telemed.pages.errors import render_error_page

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    AuthenticationRequired: 401,
    InvalidCredentials: 401,
    CsrfRejected: 403,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    ValidationFailed: 422,
    TooManyAttempts: 429,
    ServiceUnavailable: 503,
    TimedOut: 504,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class MalformedRequest(DomainError):
    code = "malformed_request"
    default_message = "The request body is not valid JSON."


STATUS_BY_ERROR[MalformedRequest] = 400


def status_for(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def error_body(error: DomainError) -> ErrorBody:
    extra: dict[str, object] = {}
    if isinstance(error, ValidationFailed):
        extra["fields"] = [
            {"field": p.field, "message": p.message, **({"code": p.code} if p.code else {})}
            for p in error.problems
        ]
    if isinstance(error, RetryLater):
        extra["retry_after"] = error.retry_after
    if isinstance(error, Conflict) and error.details:
        extra.update(error.details)
    return ErrorBody(error.code, error.message, extra)


def _is_api(request: web.Request) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _respond(request: web.Request, status: int, body: ErrorBody) -> web.StreamResponse:
    if _is_api(request) or request.path in ("/healthz", "/metrics"):
        return web.json_response(body.as_json(), status=status)
    return render_error_page(request, status, body)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as error:
        response = _respond(request, status_for(error), error_body(error))
        if isinstance(error, RetryLater):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "error")
        message = exc.reason if exc.status != 404 else "No such resource."
        response = _respond(request, exc.status, ErrorBody(code, message))
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, route_name(request))
        return _respond(
            request,
            500,
            ErrorBody(
                "internal_error",
                f"Something went wrong on the server. Quote request id {request_id_var.get()}.",
            ),
        )


def route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    # The route pattern, never the concrete path: paths hold ids, queries may hold more.
    return resource.canonical if resource is not None else "unmatched"
