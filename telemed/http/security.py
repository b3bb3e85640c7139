"""Security headers on every response, static files and errors included; no ``Server``."""

from __future__ import annotations

from aiohttp import hdrs, web

# No inline script anywhere: pages load ES modules from /static. Media may come from
# blob: URLs (recordings, previews) and the camera; connections stay on this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": (
        "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
    ),
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # aiohttp names itself and the Python version in ``Server``: a list of what to attack.
    response.headers.popall(hdrs.SERVER, None)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
