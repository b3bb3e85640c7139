"""The default namespace: refuses connections without a valid session.

The case rooms (join, replay, notes, presence) are added here by the live rooms work.
"""

from __future__ import annotations

from typing import Any

import socketio
from aiohttp import web

from telemed import appkeys
from telemed.errors import AuthenticationRequired
from telemed.realtime.connection import authenticate_connection


class ConnectionNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    def __init__(self, app: web.Application) -> None:
        super().__init__("/")
        # Services are built when the application starts, after namespaces are registered,
        # so a namespace looks them up on the app as a view does on ``request.app``.
        self._app = app

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        try:
            principal = await authenticate_connection(
                self._app[appkeys.AUTH_SERVICE], environ, auth
            )
        except AuthenticationRequired as error:
            # The browser client sees this as connect_error: err.message and err.data.code.
            raise socketio.exceptions.ConnectionRefusedError(
                error.message, {"code": error.code}
            ) from None
        await self.save_session(sid, {"principal": principal})
