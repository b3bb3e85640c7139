"""HTML error pages: what happened and what to do, never the raw input."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from telemed.errors import ErrorBody


def render_error_page(request: web.Request, status: int, body: ErrorBody) -> web.StreamResponse:
    return aiohttp_jinja2.render_template(
        "error.html",
        request,
        {"status": status, "code": body.code, "message": body.message},
        status=status,
    )
