"""HTTP transport for what a case becomes outside the app: minutes (HTML, PDF) and FHIR."""

from __future__ import annotations

import json

from aiohttp import web

from telemed import appkeys
from telemed.cases.views import CASE, case_id
from telemed.http.auth import current_actor
from telemed.http.openapi import describe

FHIR_JSON = "application/fhir+json"


@describe(
    "The consultation minutes, printable HTML (?lang=vi|en).",
    tag="minutes",
    content_type="text/html",
    errors=(403, 404),
)
async def minutes_html(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    lang = request.app[appkeys.CATALOGS].language_of(request)
    html = await request.app[appkeys.MINUTES_SERVICE].html(actor, case_id(request), lang)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


@describe(
    "The consultation minutes as PDF (?lang=vi|en).",
    tag="minutes",
    content_type="application/pdf",
    errors=(403, 404, 503, 504),
)
async def minutes_pdf(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    lang = request.app[appkeys.CATALOGS].language_of(request)
    number = case_id(request)
    pdf = await request.app[appkeys.MINUTES_SERVICE].pdf(actor, number, lang)
    # The file name carries the case number only, never the patient code.
    disposition = f'inline; filename="minutes-case-{number}-{lang}.pdf"'
    return web.Response(
        body=pdf, content_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@describe(
    "The case as a FHIR R4 Bundle (ServiceRequest, Task, Encounter, Communications).",
    tag="minutes",
    content_type="application/fhir+json",
    errors=(403, 404),
)
async def fhir_bundle(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    bundle = await request.app[appkeys.MINUTES_SERVICE].fhir(actor, case_id(request))
    body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=body, content_type=FHIR_JSON, charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_get(CASE + "/minutes", minutes_html)
    app.router.add_get(CASE + "/minutes.pdf", minutes_pdf)
    app.router.add_get(CASE + "/fhir", fhir_bundle)
