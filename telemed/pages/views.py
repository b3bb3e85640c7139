"""The sign-in page and the signed-in home page."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from telemed.http.auth import optional_principal


async def login_page(request: web.Request) -> web.StreamResponse:
    if await optional_principal(request) is not None:
        raise web.HTTPFound("/")
    return aiohttp_jinja2.render_template("login.html", request, {})


async def home_page(request: web.Request) -> web.StreamResponse:
    principal = await optional_principal(request)
    if principal is None:
        raise web.HTTPFound("/login")
    return aiohttp_jinja2.render_template("home.html", request, {"user": principal})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_get("/", home_page)
