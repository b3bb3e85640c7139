"""Two aiortc peers that may only use relayed candidates connect through a real coturn
with credentials from ``IceServers`` and from the server's ``rtc:config``; an expired
credential gets no relay at all."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
)

from telemed.clock import ManualClock
from telemed.settings import Settings
from telemed.signaling.ice import IceConfig, IceServers
from tests.signaling.coturn import Coturn, relay_configuration, running_coturn
from tests.support.media import wait_for
from tests.support.participants import participant
from tests.support.server import RunningServer
from tests.support.services import require_binary

pytestmark = pytest.mark.slow

TTL = 3600
CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)", re.MULTILINE)


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    binary = require_binary("turnserver", "coturn")
    with running_coturn(binary, tmp_path) as server:
        yield server


def relay_only(coturn: Coturn, clock: ManualClock, user_id: int) -> RTCConfiguration:
    """What a browser gets from ``rtc:config``, with relayed candidates only."""
    ice = IceServers(IceConfig(turn_urls=(coturn.url,), turn_secret=coturn.secret), clock)
    [entry] = ice.for_subject(str(user_id))
    return relay_configuration(dict(entry))


async def connect_relayed(
    caller: RTCPeerConnection, callee: RTCPeerConnection, coturn: Coturn
) -> None:
    """Negotiate, check every candidate is a relay on this coturn, send one message."""
    received: asyncio.Queue[str] = asyncio.Queue()

    @callee.on("datachannel")
    def _channel(channel: RTCDataChannel) -> None:
        channel.on("message", received.put_nowait)

    channel = caller.createDataChannel("board")
    await caller.setLocalDescription(await caller.createOffer())
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)

    # Every candidate is an allocation on this coturn: loopback, in its relay range.
    for pc in (caller, callee):
        found = candidates(pc)
        assert found, coturn.log_text()
        for host, port, kind in found:
            assert (host, kind) == ("127.0.0.1", "relay")
            assert coturn.min_port <= port <= coturn.max_port
    await wait_for(
        lambda: caller.connectionState == "connected" and callee.connectionState == "connected"
    )
    await wait_for(lambda: channel.readyState == "open")
    channel.send("through the relay")
    assert await asyncio.wait_for(received.get(), 10) == "through the relay"


def candidates(pc: RTCPeerConnection) -> list[tuple[str, int, str]]:
    sdp = pc.localDescription.sdp
    return [(host, int(port), kind) for host, port, kind in CANDIDATE.findall(sdp)]


async def test_relay_only_peers_connect_through_coturn_with_issued_credentials(
    coturn: Coturn,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    caller = RTCPeerConnection(relay_only(coturn, clock, 5))
    callee = RTCPeerConnection(relay_only(coturn, clock, 6))
    try:
        await connect_relayed(caller, callee, coturn)
    finally:
        await caller.close()
        await callee.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], coturn: Coturn) -> Settings:
    return make_settings(turn_urls=[coturn.url], turn_secret=coturn.secret)


@pytest.fixture
def clock() -> ManualClock:
    # coturn checks the credential's expiry against its own (real) clock.
    return ManualClock(datetime.now(UTC))


async def test_participants_connect_relay_only_with_the_credentials_of_rtc_config(
    server: RunningServer, coturn: Coturn, clock: ManualClock
) -> None:
    people = [await participant(server, name) for name in ("bs.namcan", "gs.chutoa")]
    try:
        acks = [await who.request("rtc:config", {}) for who in people]
        entries = [ack["iceServers"] for ack in acks]
        assert all(ack["ok"] for ack in acks)
        assert [len(servers) for servers in entries] == [1, 1]
        # Each names its own user, and expires one lifetime from the server's clock.
        expiry = int(clock.now().timestamp()) + server.settings.turn_credential_ttl
        for who, [entry] in zip(people, entries, strict=True):
            assert who.signed is not None
            assert entry["username"] == f"{expiry}:{who.signed.user['id']}"
        caller = RTCPeerConnection(relay_configuration(entries[0][0]))
        callee = RTCPeerConnection(relay_configuration(entries[1][0]))
        try:
            await connect_relayed(caller, callee, coturn)
        finally:
            await caller.close()
            await callee.close()

        # Credentials handed out more than one lifetime ago no longer get a relay.
        clock.advance(-(server.settings.turn_credential_ttl + 60))
        [stale] = (await people[0].request("rtc:config", {}))["iceServers"]
        late = RTCPeerConnection(relay_configuration(stale))
        try:
            late.createDataChannel("board")
            await late.setLocalDescription(await late.createOffer())
            assert candidates(late) == []
        finally:
            await late.close()
    finally:
        for who in people:
            await who.close()


async def test_an_expired_credential_gets_no_relay_and_the_peers_never_connect(
    coturn: Coturn,
) -> None:
    # Issued more than one lifetime ago: coturn refuses the allocation.
    expired = ManualClock(datetime.now(UTC) - timedelta(seconds=TTL + 60))
    current = ManualClock(datetime.now(UTC))
    caller = RTCPeerConnection(relay_only(coturn, expired, 5))
    callee = RTCPeerConnection(relay_only(coturn, current, 6))
    witness = RTCPeerConnection(relay_only(coturn, current, 7))
    try:
        caller.createDataChannel("board")
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)

        # aiortc finishes gathering with no candidate at all, and with nothing to check
        # it never starts connecting: the state stays "new" rather than becoming "failed".
        assert caller.iceGatheringState == "complete"
        assert candidates(caller) == []
        assert caller.connectionState == "new"
        assert caller.iceConnectionState == "new"
        assert callee.connectionState != "connected"

        # The same coturn, at the same moment, relays for a current credential.
        witness.createDataChannel("board")
        await witness.setLocalDescription(await witness.createOffer())
        assert [kind for _, _, kind in candidates(witness)] == ["relay"]
    finally:
        await caller.close()
        await callee.close()
        await witness.close()
