"""Behind a trusted proxy, a request has the scheme the client used.

nginx terminates TLS and speaks plain HTTP to Telemed, so without this every request
looks like ``http``: links the server builds (a guest's invitation) would send a one-time
token over plain HTTP, and the sign-in page's ``https://`` origin would not be the
server's own. ``X-Forwarded-Proto`` is believed only from ``TELEMED_TRUSTED_PROXIES``,
as ``X-Forwarded-For`` is (telemed.http.requests).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from telemed import appkeys
from telemed.http.requests import is_trusted_proxy

SCHEMES = frozenset({"http", "https"})


@web.middleware
async def forwarded_scheme(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme = request.headers.get("X-Forwarded-Proto", "").strip().lower()
    if scheme in SCHEMES and scheme != request.scheme:
        trusted = request.app[appkeys.SETTINGS].trusted_proxies
        if is_trusted_proxy(request.remote, trusted):
            return await handler(request.clone(scheme=scheme))
    return await handler(request)
