"""Access follows changes at once: sign-out, expiry, council removal; per-user notices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from telemed import appkeys
from telemed.accounts.principal import Actor
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.cases import act, requested_case
from tests.support.participants import participant
from tests.support.server import RunningServer, running


@pytest.fixture
async def swept(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> AsyncIterator[RunningServer]:
    """A server that re-checks every connection five times a second."""
    async with running(make_settings(socket_revalidate_seconds=0.2), clock) as server:
        yield server


async def test_signing_out_disconnects_the_sessions_sockets(server: RunningServer) -> None:
    chair = await participant(server, "gs.chutoa")
    other_session = await participant(server, "gs.chutoa")
    assert chair.signed is not None
    async with chair.signed.http.post(
        "/api/v1/auth/logout", headers=chair.signed.bearer
    ) as response:
        assert response.status == 200
    await chair.until(lambda: not chair.client.connected)
    # Another session of the same user is not affected.
    assert other_session.client.connected


async def test_an_expired_session_is_disconnected_by_the_sweep(
    swept: RunningServer, clock: ManualClock
) -> None:
    case_id = await requested_case(swept)
    chair = await participant(swept, "gs.chutoa")
    assert (await chair.join(case_id))["ok"] is True
    clock.advance(swept.settings.session_idle_timeout + 1)
    await chair.until(lambda: not chair.client.connected)


async def test_an_open_socket_alone_does_not_keep_an_idle_session_alive(
    swept: RunningServer, clock: ManualClock
) -> None:
    chair = await participant(swept, "gs.chutoa")
    idle = swept.settings.session_idle_timeout
    clock.advance(idle * 2 / 3)
    await asyncio.sleep(1.0)  # several background checks run meanwhile (every 0.2 s)
    assert chair.client.connected
    clock.advance(idle / 2)  # idle since sign-in for longer than the timeout
    await chair.until(lambda: not chair.client.connected)


async def test_a_member_removed_from_the_council_is_removed_from_its_rooms(
    swept: RunningServer,
) -> None:
    case_id = await requested_case(swept)
    chair = await participant(swept, "gs.chutoa")
    member = await participant(swept, "gs.timmach")
    await chair.join(case_id)
    assert (await member.join(case_id))["ok"] is True

    admin = await swept.sign_in("kiemtra")
    principal = await swept.app[appkeys.AUTH_SERVICE].authenticate(admin.token)
    await swept.app[appkeys.ACCOUNT_SERVICE].remove_membership(
        Actor(principal, "127.0.0.1", "test"), "gs.timmach", "HDCM-MIENNAM"
    )

    await member.until(lambda: member.removed == [{"case_id": case_id}])
    await chair.until(
        lambda: (
            bool(chair.presence)
            and [p["user"]["username"] for p in chair.presence[-1]["peers"]] == ["gs.chutoa"]
        )
    )
    await chair.note(case_id, "Sau khi thành viên rời hội đồng.")
    await chair.until(lambda: chair.seqs(case_id) == [1, 2])
    assert member.seqs(case_id) == [1]
    # Joining again is refused like any case of another council.
    refused = await member.join(case_id)
    assert refused["ok"] is False
    assert refused["error"]["code"] == "not_found"


async def test_an_emergency_alerts_every_online_member_of_the_council_only(
    server: RunningServer,
) -> None:
    council = [await participant(server, n) for n in ("gs.chutoa", "ts.thuky", "gs.timmach")]
    other_council = await participant(server, "gs.thankinh")
    doctor = await participant(server, "bs.namcan")

    emergency = await requested_case(server, urgency="emergency", title="Đột quỵ cấp")
    for who in council:
        await who.until(lambda: len(who.notices) == 2)  # noqa: B023
        assert [(n["kind"], n["case_id"], n["urgency"]) for n in who.notices] == [
            ("case.requested", emergency, "emergency"),
            ("emergency", emergency, "emergency"),
        ]
        assert who.notices[0]["title"] == "Đột quỵ cấp"
        assert "summary" not in who.notices[0]
        assert "patient" not in who.notices[0]

    # The other council hears only of its own case (which proves it heard nothing before).
    central = await requested_case(server, council="HDCM-TW")
    await other_council.until(lambda: len(other_council.notices) == 1)
    assert other_council.notices[0]["case_id"] == central
    assert doctor.notices == []

    # Triage answers reach the requesting doctor.
    assert council[0].signed is not None
    await act(council[0].signed, emergency, "accept")
    await doctor.until(lambda: len(doctor.notices) == 1)
    assert (doctor.notices[0]["kind"], doctor.notices[0]["case_id"]) == (
        "case.accepted",
        emergency,
    )
