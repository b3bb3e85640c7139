"""HTTP transport for attachments: stream the multipart upload, send stored files back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from telemed import appkeys
from telemed.cases.attachments import FormField, StoredFile
from telemed.cases.sniff import DICOM, JPEG, MATROSKA, MAX_DESCRIPTION, PDF, PNG, WEBM
from telemed.cases.views import CASE
from telemed.errors import FieldProblem, UnsupportedMediaType, ValidationFailed
from telemed.http.api import Call, api
from telemed.shapes import Json

ATTACHMENTS = CASE + "/attachments"
ATTACHMENT = ATTACHMENTS + r"/{attachment_id:\d+}"
CHUNK = 64 * 1024
# Opened on its own, a stored file may not run script or reach this origin's cookies.
FILE_POLICY = "sandbox"
# A file is sent back as the type its content was identified as.
STORED_TYPES = tuple(kind.media_type for kind in (JPEG, PNG, PDF, DICOM, MATROSKA, WEBM))
UPLOAD_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
    },
    "additionalProperties": False,
}


def _ids(call: Call[None]) -> tuple[int, int]:
    return call.id("case_id"), call.id("attachment_id")


def _malformed() -> ValidationFailed:
    return ValidationFailed(
        [FieldProblem("body", "not a valid multipart/form-data body (control characters?)")]
    )


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while True:
        try:
            chunk = await part.read_chunk(CHUNK)
        except (ValueError, BadHttpMessage):
            raise _malformed() from None
        if not chunk:
            return
        yield chunk


async def _form(request: web.Request) -> AsyncIterator[FormField]:
    """The fields of a multipart body, read as they arrive: never the whole body at once."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data (field 'file').")
    try:
        reader = await request.multipart()
    except ValueError:
        raise _malformed() from None
    while True:
        try:
            part = await reader.next()
        except (ValueError, BadHttpMessage):
            raise _malformed() from None
        if part is None:
            return
        if not isinstance(part, BodyPartReader):
            raise _malformed()
        yield FormField(part.name or "", part.filename, _chunks(part))


def _urls(case: int, attachment: dict[str, object]) -> dict[str, object]:
    url = f"/api/v1/cases/{case}/attachments/{attachment['id']}"
    return {"url": url, "preview_url": f"{url}/preview" if attachment["has_preview"] else None}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 5987."""
    fallback = "".join(
        char if 0x20 <= ord(char) < 0x7F and char not in '"\\%;' else "_" for char in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _file_response(stored: StoredFile) -> web.FileResponse:
    return web.FileResponse(
        stored.path,
        headers={
            "Content-Type": stored.media_type,
            "Content-Disposition": content_disposition(stored.filename),
            "Content-Security-Policy": FILE_POLICY,
        },
    )


@api(
    "Upload an attachment (multipart field `file`; JPEG, PNG, PDF or DICOM, checked by content).",
    tag="attachments",
    status=201,
    content_type="application/json",
    errors=(403, 404, 409, 413, 415, 422),
    form=UPLOAD_FORM,
)
async def upload(call: Call[None]) -> Json:
    case, service = call.id("case_id"), call.app[appkeys.ATTACHMENT_SERVICE]
    stored = await service.upload(call.actor, case, _form(call.request))
    return {**stored, **_urls(case, stored)}


@api(
    "Download an attachment (people who may see the case).",
    tag="attachments",
    content_type=STORED_TYPES,
    errors=(403, 404),
)
async def download(call: Call[None]) -> web.FileResponse:
    service = call.app[appkeys.ATTACHMENT_SERVICE]
    return _file_response(await service.download(call.actor, *_ids(call)))


@api(
    "A PNG preview of a DICOM attachment, where one could be made.",
    tag="attachments",
    content_type="image/png",
    errors=(403, 404),
)
async def preview(call: Call[None]) -> web.FileResponse:
    service = call.app[appkeys.ATTACHMENT_SERVICE]
    return _file_response(await service.preview(call.actor, *_ids(call)))


def add_routes(app: web.Application) -> None:
    app.router.add_post(ATTACHMENTS, upload)
    app.router.add_get(ATTACHMENT, download)
    app.router.add_get(ATTACHMENT + "/preview", preview)
