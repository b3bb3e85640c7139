"""Email: a real SMTP server (aiosmtpd) in the test's event loop receives what Telemed
sends; the calendar invitation parses with icalendar; a refused email is tried again
later, and two servers sharing one database send each email once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from aiosmtpd.smtp import SMTP, Envelope

from telemed import appkeys
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call
from tests.support.cases import NEW_CASE, act, create_case, to_scheduled
from tests.support.server import RunningServer, SignedIn, running

PUBLIC = "https://telemed.benhvien.example"


class Relay:
    """What the SMTP server received; it refuses the next ``refuse`` messages (451)."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.attempts = 0
        self.refuse = 0

    async def handle_DATA(self, server: SMTP, session: object, envelope: Envelope) -> str:
        self.attempts += 1
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        content = envelope.content
        assert isinstance(content, bytes)
        self.received.append(message_from_bytes(content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Relay, int]]:
    handler = Relay()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    try:
        yield handler, port
    finally:
        server.close()
        await server.wait_closed()


def _smtp(port: int) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_from": "hoichan@benhvien.example",
        "public_url": PUBLIC,
        "scheduler_interval_seconds": 3600.0,
    }


async def _set_email(admin: SignedIn, username: str, email: str) -> None:
    users = await call(admin, "GET", "/api/v1/admin/users")
    user = next(u for u in users["items"] if u["username"] == username)
    body = {
        "full_name": user["full_name"],
        "role": user["role"],
        "facility": user["facility"]["code"] if user["facility"] else None,
        "email": email,
    }
    changed = await call(admin, "PUT", f"/api/v1/admin/users/{user['id']}", body)
    assert changed["email"] == email


def _event(message: EmailMessage) -> tuple[str, icalendar.Component]:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    calendar = icalendar.Calendar.from_ical(part.get_content())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    assert part.get_param("method") == str(calendar["METHOD"])
    return str(calendar["METHOD"]), events[0]


async def test_notifications_arrive_by_email_with_a_calendar_invitation(
    make_settings: Callable[..., Settings], clock: ManualClock, relay: tuple[Relay, int]
) -> None:
    received, port = relay
    async with running(make_settings(**_smtp(port)), clock) as server:
        tick = server.app[appkeys.SCHEDULER].tick
        admin = await server.sign_in("kiemtra")
        await _set_email(admin, "gs.timmach", "timmach@benhvien.example")
        await _set_email(admin, "bs.namcan", "namcan@ttyt.example")
        doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")

        case_id = int((await create_case(doctor))["id"])
        await tick()
        [request] = received.to("timmach@benhvien.example")
        assert request["From"] == "hoichan@benhvien.example"
        assert f"ca số {case_id}" in request["Subject"]
        text = request.get_body(("plain",))
        assert text is not None
        body = text.get_content()
        assert NEW_CASE["title"] in body
        assert f"{PUBLIC}/cases/{case_id}" in body
        # Nothing clinical beyond the title: no summary, no patient code, no questions.
        for clinical in (NEW_CASE["summary"][:20], NEW_CASE["patient_code"], "Chẩn đoán"):
            assert clinical not in request.as_string()
        assert NEW_CASE["title"] not in request["Subject"]
        # The chair has no address: nothing for them.
        assert len(received.received) == 1

        first_time = clock.now() + timedelta(days=1)
        await to_scheduled(chair, case_id, first_time.isoformat())
        await tick()
        kinds = [m["Subject"] for m in received.to("namcan@ttyt.example")]
        assert len(kinds) == 2  # accepted, then scheduled
        method, event = _event(received.to("timmach@benhvien.example")[-1])
        assert method == "REQUEST"
        assert event.decoded("dtstart") == first_time
        assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=1)
        uid = str(event["UID"])
        assert uid == f"telemed-case-{case_id}-session@benhvien.example"
        assert event.decoded("sequence") == 0
        assert str(event["ATTENDEE"]) == "mailto:timmach@benhvien.example"
        _, doctors = _event(received.to("namcan@ttyt.example")[-1])
        assert str(doctors["UID"]) == uid

        moved = first_time + timedelta(hours=3)
        await act(chair, case_id, "schedule", scheduled_at=moved.isoformat())
        await tick()
        method, event = _event(received.to("timmach@benhvien.example")[-1])
        assert (method, str(event["UID"]), event.decoded("sequence")) == ("REQUEST", uid, 1)
        assert event.decoded("dtstart") == moved

        await act(doctor, case_id, "cancel")
        await tick()
        method, event = _event(received.to("timmach@benhvien.example")[-1])
        assert (method, str(event["UID"]), event.decoded("sequence")) == ("CANCEL", uid, 2)
        assert str(event["STATUS"]) == "CANCELLED"
        assert event.decoded("dtstart") == moved
        # Every email once: sending again finds nothing due.
        total = len(received.received)
        await tick()
        assert len(received.received) == total


async def test_a_refused_email_is_sent_later_and_once_by_two_servers(
    make_settings: Callable[..., Settings], relay: tuple[Relay, int]
) -> None:
    received, port = relay
    clocks = [ManualClock(), ManualClock()]
    async with (
        running(make_settings(**_smtp(port)), clocks[0]) as a,
        running(make_settings(**_smtp(port)), clocks[1]) as b,
    ):
        servers: list[RunningServer] = [a, b]

        async def tick_both() -> None:
            await asyncio.gather(*(s.app[appkeys.SCHEDULER].tick() for s in servers))

        def advance(seconds: float) -> None:
            for clock in clocks:
                clock.advance(seconds)

        await _set_email(await a.sign_in("kiemtra"), "gs.timmach", "timmach@benhvien.example")
        received.refuse = 1
        await create_case(await b.sign_in("bs.namcan"))

        await tick_both()
        assert (received.attempts, len(received.received)) == (1, 0)
        await tick_both()  # not due yet: the first retry waits a minute
        assert received.attempts == 1

        advance(61)
        await tick_both()
        await tick_both()
        assert (received.attempts, len(received.received)) == (2, 1)
        advance(3600)
        await tick_both()
        assert len(received.to("timmach@benhvien.example")) == 1
