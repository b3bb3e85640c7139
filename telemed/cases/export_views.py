"""HTTP transport for what a case becomes outside the app: minutes (HTML, PDF) and FHIR."""

from __future__ import annotations

import json

from aiohttp import web

from telemed import appkeys
from telemed.cases.views import CASE
from telemed.errors import RecordAltered
from telemed.http.api import Call, api
from telemed.http.errors import error_body, status_for
from telemed.http.openapi import describe
from telemed.pages.errors import render_error_page

FHIR_JSON = "application/fhir+json"


@api(
    "The consultation minutes, printable HTML (?lang=vi|en).",
    tag="minutes",
    content_type="text/html",
    errors=(403, 404, 409),
)
async def minutes_html(call: Call[None]) -> web.StreamResponse:
    lang = call.app[appkeys.CATALOGS].language_of(call.request)
    try:
        html = await call.app[appkeys.MINUTES_SERVICE].html(call.actor, call.id("case_id"), lang)
    except RecordAltered as error:
        # The minutes are a page people open: they say why in their language.
        return render_error_page(call.request, status_for(error), error_body(error))
    return web.Response(text=html, content_type="text/html", charset="utf-8")


@api(
    "The consultation minutes as PDF (?lang=vi|en).",
    tag="minutes",
    content_type="application/pdf",
    errors=(403, 404, 409, 503, 504),
)
async def minutes_pdf(call: Call[None]) -> web.Response:
    lang = call.app[appkeys.CATALOGS].language_of(call.request)
    number = call.id("case_id")
    pdf = await call.app[appkeys.MINUTES_SERVICE].pdf(call.actor, number, lang)
    # The file name carries the case number only, never the patient code.
    disposition = f'inline; filename="minutes-case-{number}-{lang}.pdf"'
    return web.Response(
        body=pdf, content_type="application/pdf", headers={"Content-Disposition": disposition}
    )


@api(
    "The case as a FHIR R4 Bundle (ServiceRequest, Task, Encounter, Communications).",
    tag="minutes",
    content_type="application/fhir+json",
    errors=(403, 404, 409),
)
async def fhir_bundle(call: Call[None]) -> web.Response:
    bundle = await call.app[appkeys.MINUTES_SERVICE].fhir(call.actor, call.id("case_id"))
    body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=body, content_type=FHIR_JSON, charset="utf-8")


@describe(
    "The certificate that signs the minutes PDFs (Telemed's CA, or the configured chain's "
    "top), as PEM: a hospital adds it to its PDF reader's trusted certificates.",
    tag="minutes",
    content_type="application/x-pem-file",
    public=True,
    errors=(),
)
async def signing_ca(request: web.Request) -> web.Response:
    pem = request.app[appkeys.PDF_SIGNERS].trust_anchor_pem
    return web.Response(
        body=pem,
        content_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="telemed-signing-ca.pem"'},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/signing/ca.pem", signing_ca)
    app.router.add_get(CASE + "/minutes", minutes_html)
    app.router.add_get(CASE + "/minutes.pdf", minutes_pdf)
    app.router.add_get(CASE + "/fhir", fhir_bundle)
