"""HTTP transport for the audit trail: review, exports and verification (administrators)."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.audit.schemas import AuditFilters, AuditQuery, VerifyInput
from telemed.audit.service import ExportFormat
from telemed.http.api import Call, api
from telemed.http.auth import current_actor
from telemed.http.openapi import describe
from telemed.http.requests import parse_json, parse_query
from telemed.shapes import Json

CONTENT_TYPES: dict[ExportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/fhir+ndjson; charset=utf-8",
}


@api(
    "Audit rows, newest first, filtered and cursor-paginated (administrators).",
    tag="audit",
    query=AuditQuery,
    errors=(403, 422),
)
async def review(call: Call[AuditQuery]) -> Json:
    return await call.app[appkeys.AUDIT_SERVICE].query(call.actor, call.input)


async def _export(request: web.Request, fmt: ExportFormat) -> web.StreamResponse:
    actor = await current_actor(request)
    filters = parse_query(request, AuditFilters)
    lines = await request.app[appkeys.AUDIT_SERVICE].export(actor, filters, fmt)
    response = web.StreamResponse(
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="telemed-audit.{fmt}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for chunk in lines:
        await response.write(chunk.encode())
    await response.write_eof()
    return response


@describe(
    "Export the filtered audit rows as CSV (administrators).",
    tag="audit",
    query=AuditFilters,
    content_type="text/csv",
    errors=(403,),
)
async def export_csv(request: web.Request) -> web.StreamResponse:
    return await _export(request, "csv")


@describe(
    "Export as FHIR AuditEvent NDJSON, IHE BALP shape (administrators).",
    tag="audit",
    query=AuditFilters,
    content_type="application/fhir+ndjson",
    errors=(403,),
)
async def export_ndjson(request: web.Request) -> web.StreamResponse:
    return await _export(request, "ndjson")


@describe(
    'Verify the hash chain; POST {"checkpoint"} also checks it against a checkpoint.',
    tag="audit",
    body=VerifyInput,
    errors=(403,),
)
async def verify(request: web.Request) -> web.Response:
    """GET verifies the chain; POST with ``{"checkpoint": {...}}`` also against a checkpoint."""
    actor = await current_actor(request)
    body = await parse_json(request, VerifyInput) if request.method == "POST" else None
    return web.json_response(await request.app[appkeys.AUDIT_SERVICE].verify(actor, body))


@api(
    "Sign a checkpoint of the chain's current end (administrators).",
    tag="audit",
    status=201,
    errors=(403,),
)
async def checkpoint(call: Call[None]) -> Json:
    return await call.app[appkeys.AUDIT_SERVICE].checkpoint(call.actor)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/audit", review)
    app.router.add_get("/api/v1/audit/export.csv", export_csv)
    app.router.add_get("/api/v1/audit/export.ndjson", export_ndjson)
    app.router.add_get("/api/v1/audit/verify", verify)
    app.router.add_post("/api/v1/audit/verify", verify)
    app.router.add_post("/api/v1/audit/checkpoints", checkpoint)
