"""Recording a call: consent, start and stop by the chair or secretary, the server's
recorder peer, and the finished file attached to the case.

A recording starts only when every participant present in the call has consented. The
server then asks each of them, with an ``rtc:signal`` from the reserved peer id
``recorder``, to open one more (send-only) connection and offer it to the recorder; the
recorder answers receive-only (``Recordings.answer``). Whenever the recording stops (asked,
at its maximum length, or with the session) the file is attached to the case by content
(Matroska, kind ``recording``) with its SHA-256, under the name of whoever started it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from telemed.accounts.principal import Actor
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.attachments import AttachmentService
from telemed.cases.models import Case, CaseStatus
from telemed.cases.repository import CaseRepository
from telemed.errors import Conflict, NotFound
from telemed.realtime.call_schemas import CaseOnly, ConsentInput
from telemed.realtime.calls import RECORDER, Call, CallPeer, CallService
from telemed.realtime.connections import Connection
from telemed.signaling.attach import upload_form
from telemed.signaling.recorder import RecordedPeer, RecordingResult

log = logging.getLogger(__name__)

Json = dict[str, Any]


class RecordingControl:
    def __init__(
        self, calls: CallService, work: AuditedWork, attachments: AttachmentService
    ) -> None:
        self._calls = calls
        self._signaling = calls.signaling
        self._work = work
        self._attachments = attachments
        # Per recorded case: who started it (the attachment is theirs) and whom it records.
        self._starters: dict[int, Actor] = {}
        self._recorded: dict[int, list[CallPeer]] = {}
        # Stops whose "recording.stopped" event the stopping request already wrote.
        self._stopped_by: dict[int, Actor] = {}
        self._attached: dict[int, Json] = {}
        self._discard: set[int] = set()
        calls.on_end.append(self._session_ended)
        calls.to_recorder = self._signal
        self._signaling.on_finished(self._finished)

    async def consent(self, connection: Connection, request_id: str, data: ConsentInput) -> Json:
        event = ("recording.consent", {"peer_id": connection.peer_id, "consent": data.consent})

        def in_call(_case: Case) -> None:
            # Inside the audited unit, so that a refusal leaves its row too.
            self._calls.member(connection, data.case_id)

        await self._calls.record(
            connection.actor(request_id),
            "recording.consent",
            data.case_id,
            lambda _case: event,
            object_id=connection.peer_id,
            check=in_call,
        )
        call, peer = self._calls.member(connection, data.case_id)
        peer.consent = data.consent
        recorded = self._recorded.get(call.case_id, [])
        if not data.consent and any(p is peer for p in recorded):
            # Withdrawing consent ends the recording: it never goes on without it.
            await self._stop(call.case_id, "consent withdrawn")
        return {"ok": True}

    async def start(self, connection: Connection, request_id: str, data: CaseOnly) -> Json:
        principal = await self._calls.rooms.authenticate(connection)
        actor = connection.actor(request_id)
        case_id = data.case_id
        call = self._calls.call(case_id)
        present: list[CallPeer] = []
        started = False
        try:
            async with self._work(actor, "recording.start", case_id=case_id) as unit:
                repo = CaseRepository(unit.db)
                case = access.require_board(principal, await repo.get(case_id, for_update=True))
                present = self._may_start(actor, case, call)
                video = next((p.peer_id for p in present if p.role == "requester"), None)
                recorded = [
                    RecordedPeer(p.peer_id, p.connection.principal.user_id, p.peer_id == video)
                    for p in present
                ]
                await self._signaling.start_recording(case_id, recorded)
                started = True
                details = {"peers": [p.peer_id for p in present], "video_peer": video}
                event = await self._calls.append(
                    repo, case, principal, "recording.started", details
                )
        except BaseException:
            if started:
                self._discard.add(case_id)
                await self._signaling.stop_recording(case_id)
            raise
        self._starters[case_id] = actor
        self._recorded[case_id] = present
        await self._calls.publish([event])
        for peer in present:
            ask = {"record": {"video": peer.peer_id == video}}
            await self._calls.deliver(peer, RECORDER, ask)
        return {"ok": True, "recorded": [p.peer_id for p in present]}

    def _may_start(self, actor: Actor, case: Case, call: Call | None) -> list[CallPeer]:
        access.require_triage(actor.user, case)
        if case.status is not CaseStatus.IN_SESSION or call is None or not call.open:
            raise Conflict("The call is not open.", status=case.status.value)
        if self._signaling.is_recording(case.id):
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
        principal = await self._calls.rooms.authenticate(connection)
        actor = connection.actor(request_id)
        case_id = data.case_id

        def may_stop(case: Case) -> None:
            access.require_triage(principal, case)
            if not self._signaling.is_recording(case_id) or case_id in self._stopped_by:
                raise Conflict("This session is not being recorded.")

        await self._calls.record(
            actor,
            "recording.stop",
            case_id,
            lambda _case: ("recording.stopped", {"reason": "stopped"}),
            check=may_stop,
        )
        self._stopped_by[case_id] = actor
        attachment = await self._stop(case_id, "stopped")
        return {"ok": True, "attachment": attachment}

    async def _stop(self, case_id: int, reason: str) -> Json | None:
        if not self._signaling.is_recording(case_id):
            return None
        await self._signaling.stop_recording(case_id, reason)
        return self._attached.pop(case_id, None)

    async def _session_ended(self, case_id: int, reason: str) -> None:
        if self._signaling.is_recording(case_id):
            await self._stop(case_id, "session ended")
        await self._signaling.end_session(case_id)

    async def _signal(self, call: Call, sender: CallPeer, data: Json) -> Json:
        """A recorded participant's offer or candidate for the recorder."""
        recorded = self._recorded.get(call.case_id, [])
        if not any(p is sender for p in recorded):
            raise NotFound("The recorder is not receiving from you.")
        if "description" in data:
            answer = await self._signaling.answer_recorder_offer(
                call.case_id, sender.peer_id, data["description"]
            )
            await self._calls.deliver(sender, RECORDER, {"description": answer})
        else:
            await self._signaling.add_recorder_candidate(
                call.case_id, sender.peer_id, data["candidate"]
            )
        return {"ok": True}

    async def _finished(self, result: RecordingResult) -> None:
        """Every stop ends here: the event (if not written yet), the attachment, and the
        participants told to close their connection to the recorder."""
        case_id = result.case_id
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
            event = ("recording.stopped", {"reason": result.reason})
            try:
                await self._calls.record(system, "recording.stop", case_id, lambda _case: event)
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
        for peer in recorded:
            if not peer.connection.closed:
                await self._calls.deliver(peer, RECORDER, {"record": None})
