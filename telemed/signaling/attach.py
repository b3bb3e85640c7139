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
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from functools import cache

from telemed.cases.attachments import FormField
from telemed.i18n import DEFAULT_LANGUAGE, LOCALE_DIR, load_translations
from telemed.signaling.recorder import RecordingResult

CHUNK = 256 * 1024
# Sessions happen in Vietnam: the description gives their local time.
VIETNAM = timezone(timedelta(hours=7))


@cache
def _catalog() -> Callable[[str], str]:
    # The description is stored with the attachment and read by everyone on the case, in
    # the minutes too: it is written once, in the deployment's language.
    return load_translations(LOCALE_DIR, DEFAULT_LANGUAGE).gettext


def spoken_duration(seconds: float, _: Callable[[str], str]) -> str:
    """14 s, 3 min 20 s, 1 h 5 min: never "0 min" for a short recording."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


def recording_description(started_at: datetime, duration: float, has_video: bool) -> str:
    _ = _catalog()
    when = started_at.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")
    text = _("Recording of the session at %(when)s (UTC+7), %(duration)s") % {
        "when": when,
        "duration": spoken_duration(duration, _),
    }
    return text + (_(", audio only") if not has_video else "")


async def upload_form(result: RecordingResult) -> AsyncIterator[FormField]:
    description = recording_description(result.started_at, result.duration, result.has_video)
    yield FormField("file", result.path.name, _chunks(result))
    yield FormField("description", None, _once(description.encode()))


async def _chunks(result: RecordingResult) -> AsyncIterator[bytes]:
    with result.path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
