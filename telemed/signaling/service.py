"""What the case room's transport asks of the video layer: ICE servers for a browser,
and the recording of a session.

Authorization (is this socket in the case room, is the call open, did everyone present
consent, may this person start a recording) is decided by the case room before it calls
here; this service holds the media rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiortc import RTCConfiguration, RTCIceServer

from telemed.accounts.principal import Principal
from telemed.signaling.recorder import RecordedPeer, RecordingResult
from telemed.signaling.recordings import FinishedHook, Recordings
from telemed.signaling.turn import IceServer, IceServers

# The subject of the server's own TURN credentials (browsers get their user id).
SERVER_SUBJECT = "telemed-recorder"


def server_configuration(ice: IceServers) -> RTCConfiguration:
    """The configuration of the server's own peers: the same servers as the browsers'."""
    servers = [
        RTCIceServer(
            urls=entry["urls"],
            username=entry.get("username"),
            credential=entry.get("credential"),
        )
        for entry in ice.for_subject(SERVER_SUBJECT)
    ]
    return RTCConfiguration(iceServers=servers)


class SignalingService:
    def __init__(self, ice: IceServers, recordings: Recordings) -> None:
        self._ice = ice
        self._recordings = recordings

    def on_finished(self, hook: FinishedHook) -> None:
        """Where every finished recording goes (stopped, at its maximum, with the session)."""
        self._recordings.on_finished = hook

    def ice_servers(self, principal: Principal) -> list[IceServer]:
        """The ``iceServers`` of ``rtc:config``: TURN credentials name the user by id."""
        return self._ice.for_subject(str(principal.user_id))

    def is_recording(self, case_id: int) -> bool:
        return self._recordings.is_recording(case_id)

    async def start_recording(self, case_id: int, peers: Sequence[RecordedPeer]) -> Path:
        return await self._recordings.start(case_id, peers)

    async def answer_recorder_offer(
        self, case_id: int, peer_id: str, offer: dict[str, object]
    ) -> dict[str, str]:
        return await self._recordings.answer(case_id, peer_id, offer)

    async def add_recorder_candidate(
        self, case_id: int, peer_id: str, candidate: dict[str, object]
    ) -> None:
        await self._recordings.add_candidate(case_id, peer_id, candidate)

    async def stop_recording(self, case_id: int, reason: str = "stopped") -> RecordingResult:
        return await self._recordings.stop(case_id, reason)

    async def end_session(self, case_id: int) -> RecordingResult | None:
        return await self._recordings.end_session(case_id)

    async def shutdown(self) -> None:
        await self._recordings.shutdown()
