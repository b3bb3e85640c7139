"""Health, metrics, and the request middleware that ids, times and logs every request."""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import text

from telemed import appkeys
from telemed.http.errors import route_name
from telemed.http.long_lived import is_long_lived
from telemed.logs import request_id_var

access_log = logging.getLogger("telemed.access")
log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


@web.middleware
async def request_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = secrets.token_hex(8)
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    if is_long_lived(request):
        # Past the other middlewares, straight to the route (telemed/http/long_lived.py).
        handler = request.match_info.handler
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as raised:
        # Redirects (and 304s) are raised as responses and pass the error middleware: they
        # are answers, counted and logged with their own status, not as failures.
        status = raised.status
        raised.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = route_name(request)
        metrics = request.app[appkeys.METRICS]
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.latency.labels(request.method, route).observe(elapsed)
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        request_id_var.reset(token)


async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[appkeys.ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def readyz(request: web.Request) -> web.Response:
    ready, body = await request.app[appkeys.READINESS].report()
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[appkeys.METRICS].render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
