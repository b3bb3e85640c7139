"""Long-lived routes: websocket upgrades that bypass the inner middlewares.

A websocket request stays inside its handler for as long as the connection is open,
hours for a case room. Each middleware around that handler keeps its coroutine frame,
and what the frame holds, alive all that time; with thousands of idle sockets that is a
measurable share of the server's memory per connection (bench/connection_memory.py). None
of them does anything for an upgrade: Engine.IO answers its own errors, reads
``X-Forwarded-Proto`` itself, renders no page and sends no static file.

So the request middleware, the outermost (every request is still given an id, counted
and logged), calls the route's own handler directly for a websocket upgrade on a path of
``appkeys.LONG_LIVED_ROUTES``. Everything else, the long-polling requests of the same
path included, goes through every middleware as before. The 101 response still gets the
security headers: they come from ``on_response_prepare``, not from a middleware.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from telemed import appkeys


def is_long_lived(request: web.Request) -> bool:
    return (
        request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        and request.path in request.app[appkeys.LONG_LIVED_ROUTES]
    )
