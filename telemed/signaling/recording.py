"""Recording a call: consent, start and stop by the chair or secretary, the server's
recorder peer, and the finished file attached to the case.

A recording starts only when every participant present in the call has consented. The
server then asks each of them, with an ``rtc:signal`` from the reserved peer id
``recorder``, to open one more (send-only) connection and offer it to the recorder; the
recorder answers receive-only (``Recordings.answer``). Whenever the recording stops (asked,
at its maximum length, with the session or the server) the file is attached to the case
by content (Matroska, kind ``recording``) with its SHA-256, under the name of whoever
started it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from functools import cache

from telemed.accounts.auth import AuthService
from telemed.accounts.principal import Actor
from telemed.cases import access
from telemed.cases.attachments import AttachmentService, FormField
from telemed.cases.log import CaseLog
from telemed.cases.models import Case, CaseStatus
from telemed.errors import Conflict, NotFound
from telemed.i18n import DEFAULT_LANGUAGE, LOCALE_DIR, load_translations
from telemed.realtime.connections import Connection, reauthenticate
from telemed.realtime.rooms import RoomTransport
from telemed.shapes import Json
from telemed.signaling.media.recorder import RecordedPeer, RecordingResult
from telemed.signaling.media.recordings import Recordings
from telemed.signaling.schemas import CaseOnly, ConsentInput
from telemed.signaling.sfu_recording import JanusRecordings
from telemed.signaling.state import RECORDER, SFU, Call, CallPeer, Calls, send_signal

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
# Sessions happen in Vietnam: the description gives their local time.
VIETNAM = timezone(timedelta(hours=7))


class RecordingControl:
    def __init__(
        self,
        *,
        case_log: CaseLog,
        attachments: AttachmentService,
        auth: AuthService,
        calls: Calls,
        transport: RoomTransport,
        recordings: Recordings,
        janus: JanusRecordings,
    ) -> None:
        self._log = case_log
        self._attachments = attachments
        self._auth = auth
        self._calls = calls
        self._transport = transport
        self._recordings = recordings
        self._janus = janus
        # Which recorder records each case: the aiortc recorder, or Janus (SFU calls).
        self._engines: dict[int, Recordings | JanusRecordings] = {}
        # Per recorded case: who started it (the attachment is theirs) and whom it records.
        self._starters: dict[int, Actor] = {}
        self._recorded: dict[int, list[CallPeer]] = {}
        # Stops whose "recording.stopped" event the stopping request already wrote.
        self._stopped_by: dict[int, Actor] = {}
        self._attached: dict[int, Json] = {}
        self._discard: set[int] = set()

    async def consent(self, connection: Connection, request_id: str, data: ConsentInput) -> Json:
        async with self._log.change(
            connection.actor(request_id),
            "recording.consent",
            data.case_id,
            rule=access.require_board,
            object_id=connection.peer_id,
        ) as change:
            # Inside the audited unit, so that a refusal leaves its row too.
            self._calls.member(connection, data.case_id)
            await change.append(
                "recording.consent", {"peer_id": connection.peer_id, "consent": data.consent}
            )
        call, peer = self._calls.member(connection, data.case_id)
        peer.consent = data.consent
        recorded = self._recorded.get(call.case_id, [])
        if not data.consent and any(p is peer for p in recorded):
            # Withdrawing consent ends the recording: it never goes on without it.
            await self._stop(call.case_id, "consent withdrawn")
        return {"ok": True}

    async def start(self, connection: Connection, request_id: str, data: CaseOnly) -> Json:
        await reauthenticate(self._auth, connection)
        actor = connection.actor(request_id)
        case_id = data.case_id
        call = self._calls.get(case_id)
        started = False
        try:
            async with self._log.change(
                actor, "recording.start", case_id, rule=access.require_board
            ) as change:
                present = self._may_start(actor, change.case, call)
                video = next((p.peer_id for p in present if p.role == "requester"), None)
                recorded = [
                    RecordedPeer(p.peer_id, p.connection.principal.user_id, p.peer_id == video)
                    for p in present
                ]
                engine = self._janus if call and call.topology == SFU else self._recordings
                self._engines[case_id] = engine
                await engine.start(case_id, recorded, self._finished)
                started = True
                details = {"peers": [p.peer_id for p in present], "video_peer": video}
                await change.append("recording.started", details)
        except BaseException:
            if started:
                self._discard.add(case_id)
                await self._engines[case_id].stop(case_id)
            self._engines.pop(case_id, None)
            raise
        self._starters[case_id] = actor
        self._recorded[case_id] = present
        if engine is self._janus:
            # Janus already receives everyone's media: nobody opens another connection.
            return {"ok": True, "recorded": [p.peer_id for p in present]}
        for peer in present:
            ask = {"record": {"video": peer.peer_id == video}}
            await send_signal(self._transport, peer, RECORDER, ask)
        return {"ok": True, "recorded": [p.peer_id for p in present]}

    def _may_start(self, actor: Actor, case: Case, call: Call | None) -> list[CallPeer]:
        access.require_triage(actor.user, case)
        if case.status is not CaseStatus.IN_SESSION or call is None or not call.open:
            raise Conflict("The call is not open.", status=case.status.value)
        if self._is_recording(case.id):
            raise Conflict("This session is already being recorded.")
        present = call.in_call()
        if not present:
            raise Conflict("No one is in the call.")
        missing = [p.user["full_name"] for p in present if not p.consent]
        if missing:
            raise Conflict(
                "Everyone in the call must consent before recording; not yet: "
                + ", ".join(missing),
                missing=[p.peer_id for p in present if not p.consent],
            )
        return present

    async def stop(self, connection: Connection, request_id: str, data: CaseOnly) -> Json:
        principal = await reauthenticate(self._auth, connection)
        actor = connection.actor(request_id)
        case_id = data.case_id
        async with self._log.change(
            actor, "recording.stop", case_id, rule=access.require_board
        ) as change:
            access.require_triage(principal, change.case)
            if not self._is_recording(case_id) or case_id in self._stopped_by:
                raise Conflict("This session is not being recorded.")
            await change.append("recording.stopped", {"reason": "stopped"})
        self._stopped_by[case_id] = actor
        attachment = await self._stop(case_id, "stopped")
        return {"ok": True, "attachment": attachment}

    async def session_ended(self, case_id: int) -> None:
        """The session ended (the call service tells): its recording and peers end too."""
        if self._is_recording(case_id):
            await self._stop(case_id, "session ended")
        await self._recordings.end_session(case_id)

    async def signal(self, call: Call, sender: CallPeer, data: Json) -> Json:
        """A recorded participant's offer or candidate for the recorder."""
        recorded = self._recorded.get(call.case_id, [])
        if not any(p is sender for p in recorded):
            raise NotFound("The recorder is not receiving from you.")
        if "description" in data:
            answer = await self._recordings.answer(
                call.case_id, sender.peer_id, data["description"]
            )
            await send_signal(self._transport, sender, RECORDER, {"description": answer})
        else:
            await self._recordings.add_candidate(call.case_id, sender.peer_id, data["candidate"])
        return {"ok": True}

    def _is_recording(self, case_id: int) -> bool:
        engine = self._engines.get(case_id)
        return engine is not None and engine.is_recording(case_id)

    async def _stop(self, case_id: int, reason: str) -> Json | None:
        if not self._is_recording(case_id):
            return None
        await self._engines[case_id].stop(case_id, reason)
        return self._attached.pop(case_id, None)

    async def _finished(self, result: RecordingResult) -> None:
        """Every stop ends here: the event (if not written yet), the attachment, and the
        participants told to close their connection to the recorder."""
        case_id = result.case_id
        engine = self._engines.pop(case_id, None)
        starter = self._starters.pop(case_id, None)
        stopped_by = self._stopped_by.pop(case_id, None)
        recorded = self._recorded.pop(case_id, [])
        if case_id in self._discard or starter is None:
            self._discard.discard(case_id)
            await asyncio.to_thread(result.path.unlink, True)
            return
        request_id = f"rec-{secrets.token_hex(4)}"
        system = Actor(starter.user, starter.address, request_id)
        if stopped_by is None:
            try:
                async with self._log.change(
                    system, "recording.stop", case_id, rule=access.require_board
                ) as change:
                    await change.append("recording.stopped", {"reason": result.reason})
            except Exception:
                log.exception("could not record the end of the recording of case %s", case_id)
        try:
            stored = await self._attachments.upload(
                stopped_by or system, case_id, upload_form(result), from_recorder=True
            )
            self._attached[case_id] = stored
            await asyncio.to_thread(result.path.unlink, True)
        except Exception:
            # The file stays in the recordings directory for an administrator to attach.
            log.exception("attaching the recording of case %s failed", case_id)
        for peer in recorded if engine is not self._janus else []:
            if not peer.connection.closed:
                await send_signal(self._transport, peer, RECORDER, {"record": None})


def spoken_duration(seconds: float, _: Callable[[str], str]) -> str:
    """14 s, 3 min 20 s, 1 h 5 min: never "0 min" for a short recording."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


@cache
def _catalog() -> Callable[[str], str]:
    # The description is stored with the attachment and read by everyone on the case, in
    # the minutes too: it is written once, in the deployment's language.
    return load_translations(LOCALE_DIR, DEFAULT_LANGUAGE).gettext


def recording_description(started_at: datetime, duration: float, has_video: bool) -> str:
    _ = _catalog()
    when = started_at.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")
    text = _("Recording of the session at %(when)s (UTC+7), %(duration)s") % {
        "when": when,
        "duration": spoken_duration(duration, _),
    }
    return text + (_(", audio only") if not has_video else "")


async def upload_form(result: RecordingResult) -> AsyncIterator[FormField]:
    """A finished recording as the form ``AttachmentService.upload`` reads (by content:
    Matroska, whose SHA-256 it records is ``result.sha256``)."""
    description = recording_description(result.started_at, result.duration, result.has_video)
    yield FormField("file", result.path.name, _chunks(result))
    yield FormField("description", None, _once(description.encode()))


async def _chunks(result: RecordingResult) -> AsyncIterator[bytes]:
    with result.path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
