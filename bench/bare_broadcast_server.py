"""A bare python-socketio broadcast server: the baseline for bench/rooms_bench.py and
bench/board_bench.py.

It speaks the same room protocol as Telemed (``case:join`` with the events after
``after_seq``, ``case:note`` with an ack, ``case:event`` to the room) with nothing behind
it: no sign-in, no authorization, no database, no audit. Each room's events are a list in
memory, notes shaped as Telemed's (author, times, rendered body).

    python bench/bare_broadcast_server.py --port 8765
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web

# Who every note is from (there is no sign-in): the size of a Telemed actor.
AUTHOR = {"id": 3, "username": "bs.namcan", "full_name": "BS. Nguyễn Văn Năm"}


def create_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)
    logs: dict[int, list[dict[str, Any]]] = defaultdict(list)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    @sio.on("case:join")  # type: ignore[untyped-decorator]
    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        case_id = int(data["case_id"])
        await sio.enter_room(sid, f"case:{case_id}")
        log = logs[case_id]
        after = int(data.get("after_seq", 0))
        return {"ok": True, "last_seq": len(log), "events": log[after:], "peers": []}

    @sio.on("case:leave")  # type: ignore[untyped-decorator]
    async def leave(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.leave_room(sid, f"case:{int(data['case_id'])}")
        return {"ok": True}

    @sio.on("case:note")  # type: ignore[untyped-decorator]
    async def note(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        case_id = int(data["case_id"])
        log = logs[case_id]
        seq = len(log) + 1
        at = datetime.now(UTC).isoformat()
        note = {
            "id": seq,
            "seq": seq,
            "author": AUTHOR,
            "created_at": at,
            "body": data["body"],
            "body_html": f"<p>{data['body']}</p>",
            "question": None,
            "supersedes": None,
        }
        event = {
            "case_id": case_id,
            "seq": seq,
            "type": "note.created",
            "actor": AUTHOR,
            "at": at,
            "data": {"note": note},
        }
        log.append(event)
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
