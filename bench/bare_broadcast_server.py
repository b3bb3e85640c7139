"""A bare python-socketio broadcast server: the baseline for bench/rooms_bench.py.

It speaks the same room protocol as Telemed (``case:join``, ``case:note`` with an ack,
``case:event`` to the room) with nothing behind it: no sign-in, no authorization, no
database, no audit, no replay. Each room's seq is a counter in memory.

    python bench/bare_broadcast_server.py --port 8765
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web


def create_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)
    seqs: dict[int, int] = defaultdict(int)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    @sio.on("case:join")  # type: ignore[untyped-decorator]
    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        case_id = int(data["case_id"])
        await sio.enter_room(sid, f"case:{case_id}")
        return {"ok": True, "last_seq": seqs[case_id], "events": [], "peers": []}

    @sio.on("case:note")  # type: ignore[untyped-decorator]
    async def note(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        case_id = int(data["case_id"])
        seqs[case_id] += 1
        seq = seqs[case_id]
        event = {
            "case_id": case_id,
            "seq": seq,
            "type": "note.created",
            "actor": None,
            "at": datetime.now(UTC).isoformat(),
            "data": {"note": {"seq": seq, "body": data["body"]}},
        }
        await sio.emit("case:event", event, room=f"case:{case_id}")
        return {"ok": True, "seq": seq}

    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
