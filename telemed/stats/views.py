"""HTTP transport for the statistics (administrators)."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.http.auth import current_actor
from telemed.http.openapi import describe
from telemed.http.requests import parse_query
from telemed.stats.schemas import StatsQuery


@describe(
    "Requests per facility and month, time to a signed decision by urgency, time to the "
    "first answer and to the decision per consultation mode and urgency, share of cases "
    "resolved without transfer (administrators).",
    tag="stats",
    query=StatsQuery,
    errors=(403, 422),
)
async def statistics(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_query(request, StatsQuery)
    return web.json_response(await request.app[appkeys.STATS_SERVICE].overview(actor, query))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats", statistics)
