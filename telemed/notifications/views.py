"""HTTP transport of the inbox: each user's own notifications."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.http.api import Call, api
from telemed.notifications.schemas import InboxQuery
from telemed.shapes import Json


@api(
    "The caller's notifications, newest first, a page at a time, with the unread count.",
    tag="notifications",
    query=InboxQuery,
    errors=(401, 422),
)
async def inbox(call: Call[InboxQuery]) -> Json:
    query = call.input
    service = call.app[appkeys.NOTIFICATION_SERVICE]
    return await service.page(call.actor.user, query.before, query.limit)


@api("How many of the caller's notifications are unread.", tag="notifications", errors=(401,))
async def unread(call: Call[None]) -> Json:
    return {"unread": await call.app[appkeys.NOTIFICATION_SERVICE].unread(call.actor.user)}


@api(
    "Mark one of the caller's notifications read (another user's answers 404).",
    tag="notifications",
    errors=(401, 403, 404),
)
async def mark_read(call: Call[None]) -> Json:
    service = call.app[appkeys.NOTIFICATION_SERVICE]
    return await service.mark_read(call.actor.user, call.id("notification_id"))


@api("Mark all the caller's notifications read.", tag="notifications", errors=(401, 403))
async def mark_all_read(call: Call[None]) -> Json:
    return await call.app[appkeys.NOTIFICATION_SERVICE].mark_all_read(call.actor.user)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/notifications", inbox)
    app.router.add_get("/api/v1/notifications/unread", unread)
    app.router.add_post(r"/api/v1/notifications/{notification_id:\d+}/read", mark_read)
    app.router.add_post("/api/v1/notifications/read", mark_all_read)
