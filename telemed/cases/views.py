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
from telemed.http.requests import parse_json, parse_query

CASE = r"/api/v1/cases/{case_id:\d+}"


def case_id(request: web.Request) -> int:
    return int(request.match_info["case_id"])


async def create_case(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, NewCase)
    board = await request.app[appkeys.CASE_SERVICE].create(actor, body)
    return web.json_response(board, status=201)


async def list_cases(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_query(request, CaseListQuery)
    return web.json_response(await request.app[appkeys.CASE_SERVICE].list(actor, query))


async def get_case(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    return web.json_response(await request.app[appkeys.CASE_SERVICE].get(actor, case_id(request)))


async def case_events(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    query = parse_query(request, EventsQuery)
    service = request.app[appkeys.CASE_SERVICE]
    return web.json_response(await service.events(actor, case_id(request), query))


async def add_note(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, NewNote)
    note, created = await request.app[appkeys.CASE_SERVICE].add_note(actor, case_id(request), body)
    return web.json_response(note, status=201 if created else 200)


async def transition(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, TransitionInput)
    service = request.app[appkeys.CASE_SERVICE]
    return web.json_response(await service.transition(actor, case_id(request), body))


async def draft_decision(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, DecisionDraft)
    service = request.app[appkeys.DECISION_SERVICE]
    return web.json_response(await service.draft(actor, case_id(request), body))


async def opine(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, OpinionInput)
    service = request.app[appkeys.DECISION_SERVICE]
    return web.json_response(await service.opine(actor, case_id(request), body))


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
    app.router.add_post(CASE + "/notes", add_note)
    app.router.add_post(CASE + "/transitions", transition)
    app.router.add_put(CASE + "/decision/draft", draft_decision)
    app.router.add_post(CASE + "/decision/opinions", opine)
    app.router.add_post(CASE + "/decision/sign", sign_decision)
