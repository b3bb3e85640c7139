"""HTML error pages: what happened and what to do, in the user's language, never the input."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from telemed.errors import ErrorBody
from telemed.logs import request_id_var


def render_error_page(request: web.Request, status: int, body: ErrorBody) -> web.StreamResponse:
    # The template explains the status in the user's language; the domain message is
    # English and only for the API, so it is not shown. The request id lets support find
    # the server's log line of a failure.
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"status": status, "code": body.code, "request_id": request_id_var.get()},
        status=status,
    )
