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
    OpinionInput,
    SignInput,
    TransitionInput,
)
from telemed.http.auth import current_actor
from telemed.http.openapi import describe
from telemed.http.requests import parse_json, parse_query, path_id

CASE = r"/api/v1/cases/{case_id:\d+}"


def case_id(request: web.Request) -> int:
    return path_id(request, "case_id")


@describe(
    "Open a consultation request (district doctors).",
    tag="cases",
    body=NewCase,
    status=201,
    errors=(403, 422),
)
async def create_case(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, NewCase)
    board = await request.app[appkeys.CASE_SERVICE].create(actor, body)
    return web.json_response(board, status=201)


@describe(
    "Cases you may see, by urgency then waiting time (or by date); cursor-paginated. "
    "Searches by words (participants only), council, facility and request dates.",
    tag="cases",
    query=CaseListQuery,
    errors=(403, 422),
)
async def list_cases(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_query(request, CaseListQuery)
    return web.json_response(await request.app[appkeys.CASE_SERVICE].list(actor, query))


@describe("The case with its board (metadata only for auditors).", tag="cases", errors=(404,))
async def get_case(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return web.json_response(await request.app[appkeys.CASE_SERVICE].get(actor, case_id(request)))


@describe(
    "What you may do on the case now (allowed_actions), for its participants and invited "
    "guests; the case page asks after every case.* or decision.* event.",
    tag="cases",
    errors=(403, 404),
)
async def case_actions(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    service = request.app[appkeys.CASE_SERVICE]
    return web.json_response(await service.actions(actor, case_id(request)))


@describe(
    "The case's events after seq `after`, in order.",
    tag="cases",
    query=EventsQuery,
    errors=(403, 404),
)
async def case_events(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_query(request, EventsQuery)
    service = request.app[appkeys.CASE_SERVICE]
    return web.json_response(await service.events(actor, case_id(request), query))


@describe(
    "Add a note; the same client_id stores one note (200 on a retry).",
    tag="cases",
    body=NewNote,
    status=201,
    also=(200,),
    errors=(403, 404, 409, 422),
)
async def add_note(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, NewNote)
    note, created = await request.app[appkeys.CASE_SERVICE].add_note(actor, case_id(request), body)
    return web.json_response(note, status=201 if created else 200)


@describe(
    "Move the case: accept, decline, request_info, provide_info, schedule, start_session, "
    "close, cancel.",
    tag="cases",
    body=TransitionInput,
    errors=(403, 404, 409, 422),
)
async def transition(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, TransitionInput)
    service = request.app[appkeys.CASE_SERVICE]
    return web.json_response(await service.transition(actor, case_id(request), body))


@describe(
    "Create (version 0) or edit (current version) the draft decision or an amendment.",
    tag="decisions",
    body=DecisionDraft,
    errors=(403, 404, 409, 422),
)
async def draft_decision(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, DecisionDraft)
    service = request.app[appkeys.DECISION_SERVICE]
    return web.json_response(await service.draft(actor, case_id(request), body))


@describe(
    "Concur with or dissent from the current draft.",
    tag="decisions",
    body=OpinionInput,
    errors=(403, 404, 409, 422),
)
async def opine(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, OpinionInput)
    service = request.app[appkeys.DECISION_SERVICE]
    return web.json_response(await service.opine(actor, case_id(request), body))


@describe(
    "Sign the current draft: immutable, hashed; the case becomes decided. Needs a step-up "
    "(POST /api/v1/session/step-up) within the last few minutes, else 403 step_up_required.",
    tag="decisions",
    body=SignInput,
    errors=(403, 404, 409, 422),
)
async def sign_decision(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, SignInput)
    service = request.app[appkeys.DECISION_SERVICE]
    return web.json_response(await service.sign(actor, case_id(request), body))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/cases", create_case)
    app.router.add_get("/api/v1/cases", list_cases)
    app.router.add_get(CASE, get_case)
    app.router.add_get(CASE + "/events", case_events)
    app.router.add_get(CASE + "/actions", case_actions)
    app.router.add_post(CASE + "/notes", add_note)
    app.router.add_post(CASE + "/transitions", transition)
    app.router.add_put(CASE + "/decision/draft", draft_decision)
    app.router.add_post(CASE + "/decision/opinions", opine)
    app.router.add_post(CASE + "/decision/sign", sign_decision)
