"""The Socket.IO fuzzer: every event the namespace handles, and names it does not, with
wrong types, huge and deeply nested values, NaN, binary and malformed frames, and floods.

Every reply must have the documented shape (docs/realtime.md, Errors), never
``internal_error``; a connection may only end for a documented reason (a frame that is
not strict JSON, binary data, a flood). Meanwhile a bystander in the same case room keeps
its connection and receives every ``case:event``, in order, while another participant
posts notes. Seeded, so a failure replays; bounded to well under a minute of messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

from telemed import appkeys
from telemed.clock import ManualClock
from telemed.realtime.server import MAX_MESSAGE_BYTES
from telemed.settings import Settings
from tests.realtime.raw import RawSocket
from tests.support.cases import in_session_case
from tests.support.participants import Participant, participant, reconnect
from tests.support.server import RunningServer

SEED = 20261130
MESSAGES = 1500
FLOOD = 400
CODES = {
    "validation_error",
    "not_found",
    "forbidden",
    "conflict",
    "authentication_required",
    "rate_limited",
    "unknown_event",
}
NON_JSON = (math.nan, math.inf, -math.inf)


def documented(reply: object) -> bool:
    """``{"ok": true, ...}`` or ``{"ok": false, "error": {"code", "message", ...}}``."""
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        return False
    if reply["ok"]:
        return True
    error = reply.get("error")
    return (
        isinstance(error, dict)
        and error.get("code") in CODES
        and isinstance(error.get("message"), str)
    )


class Hostile:
    """Values a hostile client sends, some shaped like the real payloads of ``case_id``."""

    def __init__(self, rng: random.Random, case_id: int) -> None:
        self.rng = rng
        self.case_id = case_id

    def scalar(self) -> object:
        return self.rng.choice(
            [
                None,
                True,
                0,
                -1,
                2**31,
                2**63,
                10**30,
                1.5,
                -0.0,
                1e308,
                "",
                "x" * self.rng.choice([1, 64, 20_001, 60_000]),
                "case:join",
                "\u0000\ud7ff\U0001f600",
                self.case_id,
                str(self.case_id),
            ]
        )

    def value(self, depth: int = 0) -> object:
        roll = self.rng.random()
        if roll < 0.02:
            return self.rng.choice(NON_JSON)
        if roll < 0.05:
            return self.nested(self.rng.choice([50, 400]))
        if depth > 3 or roll < 0.5:
            return self.scalar()
        if roll < 0.75:
            return [self.value(depth + 1) for _ in range(self.rng.randrange(4))]
        keys = ["case_id", "to", "data", "body", "peer_id", "consent", "x", "description"]
        return {self.rng.choice(keys): self.value(depth + 1) for _ in range(self.rng.randrange(4))}

    def nested(self, depth: int) -> object:
        value: object = self.case_id
        for n in range(depth):
            value = [value] if n % 2 else {"case_id": value}
        return value

    def payload(self, event: str) -> object:
        """A real payload of ``event``, most often with one field made hostile or added,
        sometimes left valid (the handlers' rules run too), otherwise anything at all."""
        roll = self.rng.random()
        if roll < 0.2:
            return self.value()
        payload = dict(self.template(event))
        if roll < 0.35:
            return payload
        key = self.rng.choice([*payload, "x"])
        payload[key] = self.value()
        return payload

    def template(self, event: str) -> dict[str, object]:
        signal = {"candidate": {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}}
        extra: dict[str, dict[str, object]] = {
            "rtc:config": {},
            "case:join": {"after_seq": 0},
            "case:note": {"body": "Ghi chú thử.", "client_id": f"fuzz-{self.rng.random()}"},
            "call:admit": {"peer_id": "abc"},
            "call:mode": {"audio_only": True},
            "rtc:signal": {"to": "abc", "data": signal},
            "rtc:stats": {"rtt_ms": 10, "packet_loss": 0.1},
            "rec:consent": {"consent": False},
        }
        if event == "rtc:config":
            return {}
        return {"case_id": self.case_id, **extra.get(event, {})}


class Fuzzer:
    def __init__(self, server: RunningServer, who: Participant) -> None:
        self.server = server
        self.who = who
        self.closings = 0

    async def send(self, event: str, payload: object) -> None:
        who = self.who
        if not who.client.connected:
            await reconnect(self.server, who)
        answered: asyncio.Future[object] = asyncio.get_running_loop().create_future()

        def on_ack(*args: object) -> None:
            if not answered.done():
                answered.set_result(args[0] if len(args) == 1 else args)
            who.changed.set()

        await who.client.emit(event, payload, callback=on_ack)
        await who.until(lambda: answered.done() or not who.client.connected, within=15)
        if answered.done():
            reply = answered.result()
            assert documented(reply), (event, repr(payload)[:200], reply)
            assert not (isinstance(reply, dict) and reply.get("ok") and _non_json(payload))
            return
        # Unanswered: the server closed the connection, for a frame that was not strict
        # JSON or was over the size limit.
        assert _non_json(payload) or _too_large(event, payload), (event, repr(payload)[:200])
        self.closings += 1


def _too_large(event: str, payload: object) -> bool:
    encoded = json.dumps([event, payload], separators=(",", ":"), ensure_ascii=False)
    return len(encoded.encode()) + len("42000") > MAX_MESSAGE_BYTES


def _non_json(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return True
    return False


@contextlib.asynccontextmanager
async def posting(poster: Participant, case_id: int) -> AsyncIterator[list[int]]:
    """``poster`` posts a note every few milliseconds until the block ends."""
    seqs: list[int] = []
    stop = asyncio.Event()

    async def post() -> None:
        n = 0
        while not stop.is_set():
            ack = await poster.note(case_id, f"Ghi chú trong lúc thử {n}.")
            assert ack["ok"] is True, ack
            seqs.append(ack["seq"])
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)

    task = asyncio.create_task(post())
    try:
        yield seqs
    finally:
        stop.set()
        await task


RAW_FRAMES: list[str | bytes] = [
    "42[" + "[" * 5000 + "]" * 5000 + "]",
    '42["case:note",{]',
    '42["case:note",{"case_id":NaN}]',
    "42[1]",
    "42{}",
    "47",
    "44{}",
    '451-["case:note",{"_placeholder":true,"num":0}]',
    b"\x00" * 1024,
    "x",
    "",
    "4",
    "40{}",
    '41["case:note"]',
    '43999[{"ok":true}]',
]


async def test_fuzzing_every_event_keeps_a_bystander_connected_and_in_order(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    # The message limit is raised so that fuzzed messages reach their handlers; the
    # flood below still runs past it.
    settings = make_settings(socket_rate_per_second=2000, socket_burst=300)
    server = RunningServer(settings, clock)
    await server.start()
    try:
        case_id, _chair_http = await in_session_case(server)
        bystander = await participant(server, "gs.chutoa")
        poster = await participant(server, "bs.namcan")
        fuzzing = await participant(server, "gs.timmach")
        assert (await bystander.join(case_id))["ok"] is True
        namespace = server.app[appkeys.SOCKETIO].namespace_handlers["/"]
        events = [*sorted(namespace.events), "connect", "disconnect", "message", "", "x" * 500]
        rng = random.Random(SEED)
        hostile = Hostile(rng, case_id)
        fuzzer = Fuzzer(server, fuzzing)

        async with posting(poster, case_id) as posted:
            for _ in range(MESSAGES):
                event = rng.choice(events)
                await fuzzer.send(event, hostile.payload(event))
            # A flood: every message at once, answered or refused, nothing else.
            flooder = Fuzzer(server, await participant(server, "gs.timmach"))
            await asyncio.gather(
                *(flooder.send(rng.choice(events), hostile.scalar()) for _ in range(FLOOD))
            )
            signed = await server.sign_in("gs.timmach")
            raw = await RawSocket.connect(server.url, signed.token)
            for frame in RAW_FRAMES:
                if raw.ws.closed:
                    await raw.close()
                    raw = await RawSocket.connect(server.url, signed.token)
                await raw.send(frame)
                reply = await _answer(raw)
                assert reply is None or documented(reply), (frame[:80], reply)
            await raw.close()

        assert bystander.client.connected
        last = (await poster.note(case_id, "Kết thúc."))["seq"]
        await bystander.until(lambda: last in bystander.seqs(case_id))
        assert bystander.seqs(case_id) == list(range(1, last + 1))
        assert set(posted) <= set(bystander.seqs(case_id))
        assert len(posted) > 10
        for who in (bystander, poster, fuzzing, flooder.who):
            await who.close()
    finally:
        await server.close()


async def _answer(raw: RawSocket) -> object:
    """The ack to a raw frame, if the server answers one before going quiet or closing."""
    try:
        frame = await raw.frame(within=0.3)
    except TimeoutError:
        return None
    if isinstance(frame, str) and frame.startswith("43"):
        body = frame[2:].lstrip("0123456789")
        answer: list[Any] = json.loads(body)
        return answer[0] if answer else None
    return None
