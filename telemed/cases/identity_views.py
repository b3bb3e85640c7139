"""HTTP transport for the patient's identity: read (audited) and replace."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.cases.schemas import PatientIdentity
from telemed.cases.views import CASE, case_id
from telemed.http.auth import current_actor
from telemed.http.openapi import describe
from telemed.http.requests import parse_json


@describe(
    "Who the patient is (the case's participants only; every read audited as "
    "case.identity.view). `identity` is null when none was recorded.",
    tag="cases",
    errors=(404,),
)
async def get_identity(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    service = request.app[appkeys.IDENTITY_SERVICE]
    return web.json_response(await service.reveal(actor, case_id(request)))


@describe(
    "Replace the patient's identity (the requesting facility's doctors, while the case is "
    "open); fields left out are cleared.",
    tag="cases",
    body=PatientIdentity,
    errors=(403, 404, 409, 422),
)
async def put_identity(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, PatientIdentity)
    service = request.app[appkeys.IDENTITY_SERVICE]
    return web.json_response(await service.update(actor, case_id(request), body))


def add_routes(app: web.Application) -> None:
    app.router.add_get(CASE + "/identity", get_identity)
    app.router.add_put(CASE + "/identity", put_identity)
