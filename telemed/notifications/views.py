"""HTTP transport of the inbox: each user's own notifications."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.http.auth import current_principal
from telemed.http.openapi import describe
from telemed.http.requests import parse_query, path_id
from telemed.notifications.schemas import InboxQuery


@describe(
    "The caller's notifications, newest first, a page at a time, with the unread count.",
    tag="notifications",
    query=InboxQuery,
    errors=(401, 422),
)
async def inbox(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    query = parse_query(request, InboxQuery)
    service = request.app[appkeys.NOTIFICATION_SERVICE]
    return web.json_response(await service.page(principal, query.before, query.limit))


@describe("How many of the caller's notifications are unread.", tag="notifications", errors=(401,))
async def unread(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    count = await request.app[appkeys.NOTIFICATION_SERVICE].unread(principal)
    return web.json_response({"unread": count})


@describe(
    "Mark one of the caller's notifications read (another user's answers 404).",
    tag="notifications",
    errors=(401, 403, 404),
)
async def mark_read(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    notification_id = path_id(request, "notification_id")
    service = request.app[appkeys.NOTIFICATION_SERVICE]
    return web.json_response(await service.mark_read(principal, notification_id))


@describe("Mark all the caller's notifications read.", tag="notifications", errors=(401, 403))
async def mark_all_read(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    return web.json_response(
        await request.app[appkeys.NOTIFICATION_SERVICE].mark_all_read(principal)
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/notifications", inbox)
    app.router.add_get("/api/v1/notifications/unread", unread)
    app.router.add_post(r"/api/v1/notifications/{notification_id:\d+}/read", mark_read)
    app.router.add_post("/api/v1/notifications/read", mark_all_read)
