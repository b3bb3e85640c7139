"""Relaying WebRTC between the browsers of a call: descriptions and candidates, audio-only
switches, and the connection figures the chair sees. Only members of an open call send;
trickled candidates are rate limited per connection."""

from __future__ import annotations

from telemed.clock import Clock
from telemed.errors import DomainError, NotFound
from telemed.realtime.connections import Connection
from telemed.realtime.presence import PresenceStore
from telemed.realtime.rooms import RoomTransport
from telemed.shapes import Json, iso
from telemed.signaling.recording import RecordingControl
from telemed.signaling.schemas import ModeInput, SignalInput, StatsInput
from telemed.signaling.sfu import SfuBridge
from telemed.signaling.state import (
    IN_CALL,
    RECORDER,
    SFU,
    SFU_PEERS,
    Call,
    CallPeer,
    Calls,
    send_signal,
    to_triage,
)


class SignalRateLimited(DomainError):
    code = "rate_limited"
    default_message = "Too many candidates; slow down."


class SignalRelay:
    def __init__(
        self,
        *,
        calls: Calls,
        transport: RoomTransport,
        presence: PresenceStore,
        clock: Clock,
        recording: RecordingControl,
        sfu: SfuBridge,
    ) -> None:
        self._calls = calls
        self._transport = transport
        self._presence = presence
        self._clock = clock
        self._recording = recording
        self._sfu = sfu

    async def signal(self, connection: Connection, request_id: str, signal: SignalInput) -> Json:
        call, sender = self._calls.member(connection, signal.case_id)
        if signal.kind == "candidate" and not sender.candidates.take():
            raise SignalRateLimited()
        if signal.to == RECORDER:
            return await self._recording.signal(call, sender, signal.data.relayed())
        if signal.to in SFU_PEERS:
            return await self._sfu.signal(call, sender, signal.to, signal.data.relayed())
        target = call.peers.get(signal.to)
        if target is None or target.state != IN_CALL or target is sender:
            raise NotFound("No such peer in this call.")
        await send_signal(self._transport, target, sender.peer_id, signal.data.relayed())
        return {"ok": True}

    async def mode(self, connection: Connection, request_id: str, mode: ModeInput) -> Json:
        call, peer = self._calls.member(connection, mode.case_id)
        if mode.screen != peer.screen:
            peer.screen = mode.screen
            # Through the SFU a shared screen goes out at its full layer to everyone.
            self._sfu.link_changed(call.case_id)
        await self._switch(call, peer, mode.audio_only, others_only=True)
        return {"ok": True}

    async def stats(self, connection: Connection, request_id: str, stats: StatsInput) -> Json:
        call, peer = self._calls.member(connection, stats.case_id)
        figures = stats.model_dump(exclude={"case_id"})
        peer.stats = {**figures, "at": iso(self._clock.now())}
        layer_changed, too_weak = peer.link.report(stats.packet_loss, stats.rtt_ms)
        if layer_changed and call.topology == SFU:
            self._sfu.link_changed(call.case_id)
        if too_weak and not peer.audio_only:
            # Audio never waits for video: the link stayed poor, the camera stops. The
            # participant hears it too (its page stops sending video) and may turn it on.
            await self._switch(call, peer, True, reason="weak_link")
        report = {
            p.peer_id: {"user": p.user, "audio_only": p.audio_only, **(p.stats or {})}
            for p in call.in_call()
            if p.stats is not None
        }
        notice = {"case_id": call.case_id, "peers": report}
        await to_triage(self._presence, self._transport, call.case_id, "call:stats", notice)
        return {"ok": True}

    async def _switch(
        self,
        call: Call,
        peer: CallPeer,
        audio_only: bool,
        *,
        reason: str | None = None,
        others_only: bool = False,
    ) -> None:
        peer.audio_only = audio_only
        if audio_only:
            peer.screen = False
        notice: Json = {
            "case_id": call.case_id,
            "peer_id": peer.peer_id,
            "audio_only": audio_only,
            "screen": peer.screen,
        }
        if reason is not None:
            notice["reason"] = reason
        for other in call.in_call():
            if other is not peer or not others_only:
                await self._transport.send(other.sid, "call:mode", notice)
