"""The lifetime of calls: the ICE servers, the server's media, the SFU bridge, the call's
services.

Built by the application factory after live delivery (the call sends to sockets and
reads presence) and before the room service (which tells the call who enters and leaves).
At shutdown the recordings still running are finished and attached to their cases while
the database and live delivery are still open.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from telemed.accounts.auth import AuthService
from telemed.cases.attachments import AttachmentService
from telemed.cases.log import CaseLog
from telemed.cases.service import CaseService
from telemed.clock import Clock
from telemed.realtime.lifetime import Delivery
from telemed.settings import Settings
from telemed.signaling.ice import IceConfig, IceServers
from telemed.signaling.janus.client import Janus
from telemed.signaling.janus.pool import JanusPool
from telemed.signaling.janus.transport import JanusHttp
from telemed.signaling.media.cpu import ProcessCpuGauge
from telemed.signaling.media.peers import PeerRegistry
from telemed.signaling.media.recordings import RecordingPolicy, Recordings
from telemed.signaling.recording import RecordingControl
from telemed.signaling.relay import SignalRelay
from telemed.signaling.service import CallService
from telemed.signaling.sfu import SfuBridge
from telemed.signaling.sfu_recording import JanusRecordingPolicy, JanusRecordings
from telemed.signaling.state import Calls


@dataclass(frozen=True)
class CallParts:
    service: CallService
    relay: SignalRelay
    recording: RecordingControl
    ice: IceServers
    peers: PeerRegistry
    recordings: Recordings
    sfu: SfuBridge


@contextlib.asynccontextmanager
async def janus_pool(settings: Settings) -> AsyncIterator[JanusPool]:
    """The configured Janus instances (none: an empty pool, calls stay a mesh). Built
    before the readiness checks, which report on it, and closed after the calls."""
    pool = JanusPool(
        [Janus(JanusHttp(url, settings.janus_api_secret)) for url in settings.janus_url]
    )
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def calls(
    settings: Settings,
    clock: Clock,
    *,
    case_log: CaseLog,
    cases: CaseService,
    attachments: AttachmentService,
    auth: AuthService,
    live: Delivery,
    janus: JanusPool,
) -> AsyncIterator[CallParts]:
    ice = IceServers(
        IceConfig(
            tuple(settings.stun_urls),
            tuple(settings.turn_urls),
            settings.turn_secret,
            settings.turn_credential_ttl,
        ),
        clock,
    )
    ice.log_configuration()
    peers = PeerRegistry()
    recordings = Recordings(
        peers,
        clock,
        RecordingPolicy(
            settings.data_dir / "recordings",
            settings.recording_max_seconds,
            settings.recording_cpu_threshold,
        ),
        configuration=ice.server_configuration,
        gauge=ProcessCpuGauge(),
    )
    state = Calls()
    janus_recording_dir = settings.janus_recording_dir or settings.data_dir / "recordings"
    sfu = SfuBridge(
        pool=janus,
        calls=state,
        transport=live.transport,
        presence=live.presence,
        admin_key=settings.janus_admin_key,
        recording_dir=janus_recording_dir.resolve(),
    )
    if janus:
        # Janus writes here as soon as a room records: it must exist first.
        janus_recording_dir.mkdir(parents=True, exist_ok=True)
    janus_recordings = JanusRecordings(
        sfu,
        clock,
        JanusRecordingPolicy(janus_recording_dir.resolve(), settings.recording_max_seconds),
    )
    recording = RecordingControl(
        case_log=case_log,
        attachments=attachments,
        auth=auth,
        calls=state,
        transport=live.transport,
        recordings=recordings,
        janus=janus_recordings,
    )
    service = CallService(
        case_log=case_log,
        cases=cases,
        auth=auth,
        presence=live.presence,
        transport=live.transport,
        calls=state,
        recording=recording,
        sfu=sfu,
    )
    relay = SignalRelay(
        calls=state,
        transport=live.transport,
        presence=live.presence,
        clock=clock,
        recording=recording,
        sfu=sfu,
    )
    try:
        yield CallParts(service, relay, recording, ice, peers, recordings, sfu)
    finally:
        await recordings.shutdown()
        await janus_recordings.shutdown()
        await service.close()
        await sfu.close()
