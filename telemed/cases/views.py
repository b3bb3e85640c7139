"""HTTP transport for cases: parse, call one service method, answer JSON."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.cases.schemas import (
    CaseListQuery,
    DecisionDraft,
    EventsQuery,
    NewCase,
    NewNote,
    NotesQuery,
    OpinionInput,
    SignInput,
    TransitionInput,
)
from telemed.http.api import Call, api
from telemed.shapes import Json

CASE = r"/api/v1/cases/{case_id:\d+}"


@api(
    "Open a consultation request (district doctors).",
    tag="cases",
    body=NewCase,
    status=201,
    errors=(403, 422),
)
async def create_case(call: Call[NewCase]) -> Json:
    return await call.app[appkeys.CASE_SERVICE].create(call.actor, call.input)


@api(
    "Cases you may see, by urgency then waiting time (or by date); cursor-paginated. "
    "Searches by words (participants only), council, facility and request dates.",
    tag="cases",
    query=CaseListQuery,
    errors=(403, 422),
)
async def list_cases(call: Call[CaseListQuery]) -> Json:
    return await call.app[appkeys.CASE_SERVICE].list(call.actor, call.input)


@api(
    "The case with its board and its latest notes (`notes_before` pages to earlier ones); "
    "metadata only for administrators.",
    tag="cases",
    errors=(404,),
)
async def get_case(call: Call[None]) -> Json:
    return await call.app[appkeys.CASE_SERVICE].get(call.actor, call.id("case_id"))


@api(
    "What you may do on the case now (allowed_actions), for its participants and invited "
    "guests; the case page asks after every case.* or decision.* event.",
    tag="cases",
    errors=(403, 404),
)
async def case_actions(call: Call[None]) -> Json:
    return await call.app[appkeys.CASE_SERVICE].actions(call.actor, call.id("case_id"))


@api(
    "The case's events after seq `after`, or the last `limit` before seq `before`, in order; "
    "`has_more`: more remain that way.",
    tag="cases",
    query=EventsQuery,
    errors=(403, 404),
)
async def case_events(call: Call[EventsQuery]) -> Json:
    return await call.app[appkeys.CASE_SERVICE].events(call.actor, call.id("case_id"), call.input)


@api(
    "A page of the case's notes, in order: the last `limit` before seq `before` (the latest "
    "without it); `notes_before` pages on, null at the first note.",
    tag="cases",
    query=NotesQuery,
    errors=(403, 404),
)
async def case_notes(call: Call[NotesQuery]) -> Json:
    return await call.app[appkeys.CASE_SERVICE].notes(call.actor, call.id("case_id"), call.input)


@api(
    "Add a note; the same client_id stores one note (200 on a retry).",
    tag="cases",
    body=NewNote,
    status=201,
    also=(200,),
    errors=(403, 404, 409, 422),
)
async def add_note(call: Call[NewNote]) -> web.Response:
    service = call.app[appkeys.CASE_SERVICE]
    note, created = await service.add_note(call.actor, call.id("case_id"), call.input)
    return web.json_response(note, status=201 if created else 200)


@api(
    "Move the case: accept (live session) or accept_written (written consultation), decline, "
    "request_info, provide_info, schedule, start_session, continue_in_writing, close_round, "
    "close, cancel.",
    tag="cases",
    body=TransitionInput,
    errors=(403, 404, 409, 422),
)
async def transition(call: Call[TransitionInput]) -> Json:
    service = call.app[appkeys.CASE_SERVICE]
    return await service.transition(call.actor, call.id("case_id"), call.input)


@api(
    "Create (version 0) or edit (current version) the draft decision or an amendment.",
    tag="decisions",
    body=DecisionDraft,
    errors=(403, 404, 409, 422),
)
async def draft_decision(call: Call[DecisionDraft]) -> Json:
    service = call.app[appkeys.DECISION_SERVICE]
    return await service.draft(call.actor, call.id("case_id"), call.input)


@api(
    "Concur with or dissent from the current draft.",
    tag="decisions",
    body=OpinionInput,
    errors=(403, 404, 409, 422),
)
async def opine(call: Call[OpinionInput]) -> Json:
    service = call.app[appkeys.DECISION_SERVICE]
    return await service.opine(call.actor, call.id("case_id"), call.input)


@api(
    "Sign the current draft: immutable, hashed; the case becomes decided. Needs a step-up "
    "(POST /api/v1/session/step-up) within the last few minutes, else 403 step_up_required.",
    tag="decisions",
    body=SignInput,
    errors=(403, 404, 409, 422),
)
async def sign_decision(call: Call[SignInput]) -> Json:
    service = call.app[appkeys.DECISION_SERVICE]
    return await service.sign(call.actor, call.id("case_id"), call.input)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/cases", create_case)
    app.router.add_get("/api/v1/cases", list_cases)
    app.router.add_get(CASE, get_case)
    app.router.add_get(CASE + "/events", case_events)
    app.router.add_get(CASE + "/actions", case_actions)
    app.router.add_get(CASE + "/notes", case_notes)
    app.router.add_post(CASE + "/notes", add_note)
    app.router.add_post(CASE + "/transitions", transition)
    app.router.add_put(CASE + "/decision/draft", draft_decision)
    app.router.add_post(CASE + "/decision/opinions", opine)
    app.router.add_post(CASE + "/decision/sign", sign_decision)
