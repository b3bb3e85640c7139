"""Handing a finished recording to the case: the form ``AttachmentService.upload`` reads.

The lead wires this as ``Recordings(on_finished=...)``::

    async def attach(result: RecordingResult) -> None:
        await attachments.upload(actor, result.case_id, upload_form(result))

``AttachmentService`` checks files by content, so it must know Matroska
(``video/x-matroska``, ``.mkv``, starting with the EBML magic ``1A 45 DF A3``) before it
accepts a recording. The SHA-256 it records is the same as ``RecordingResult.sha256``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from telemed.cases.attachments import FormField
from telemed.signaling.recorder import RecordingResult

CHUNK = 256 * 1024


async def upload_form(result: RecordingResult) -> AsyncIterator[FormField]:
    when = result.started_at.strftime("%Y-%m-%d %H:%M UTC")
    minutes = round(result.duration / 60)
    description = f"Recording of the session of {when} ({minutes} min)"
    if not result.has_video:
        description += ", audio only"
    yield FormField("file", result.path.name, _chunks(result))
    yield FormField("description", None, _once(description.encode()))


async def _chunks(result: RecordingResult) -> AsyncIterator[bytes]:
    with result.path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
