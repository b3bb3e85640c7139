"""HTTP transport for the patient's identity: read (audited) and replace."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.cases.schemas import PatientIdentity
from telemed.cases.views import CASE
from telemed.http.api import Call, api
from telemed.shapes import Json


@api(
    "Who the patient is (the case's participants only; every read audited as "
    "case.identity.view). `identity` is null when none was recorded.",
    tag="cases",
    errors=(404,),
)
async def get_identity(call: Call[None]) -> Json:
    return await call.app[appkeys.IDENTITY_SERVICE].reveal(call.actor, call.id("case_id"))


@api(
    "Replace the patient's identity (the requesting facility's doctors, while the case is "
    "open); fields left out are cleared.",
    tag="cases",
    body=PatientIdentity,
    errors=(403, 404, 409, 422),
)
async def put_identity(call: Call[PatientIdentity]) -> Json:
    service = call.app[appkeys.IDENTITY_SERVICE]
    return await service.update(call.actor, call.id("case_id"), call.input)


def add_routes(app: web.Application) -> None:
    app.router.add_get(CASE + "/identity", get_identity)
    app.router.add_put(CASE + "/identity", put_identity)
