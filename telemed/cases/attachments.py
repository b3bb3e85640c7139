"""Attachments: files on a case, checked by content, stored by hash, served to participants.

An upload is streamed to a temporary blob while it is hashed and measured, checked by its
content, moved to its address, and only then recorded, in one audited transaction that
also appends the ``attachment.added`` event. A refused or failed upload leaves nothing:
no temporary file, no blob (unless other rows use the same content), no row, no event.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.principal import Actor
from telemed.audit.log import AuditEntry
from telemed.audit.work import AuditedWork, Unit, outcome_of
from telemed.cases import access
from telemed.cases.blobs import BlobStore, BlobWriter, is_referenced
from telemed.cases.board import attachment_json
from telemed.cases.log import CaseLog
from telemed.cases.models import Attachment
from telemed.cases.repository import CaseRepository
from telemed.cases.sniff import (
    MAX_DESCRIPTION,
    PNG,
    FileType,
    Sniffed,
    clean_text,
    megabytes,
    sniff,
)
from telemed.cases.workflow import require_open
from telemed.clock import Clock
from telemed.errors import DomainError, FieldProblem, NotFound, PayloadTooLarge, ValidationFailed
from telemed.shapes import Json

MAX_FILENAME = 255
# Bytes handed to the disk at once: fewer thread hops than one per network chunk.
WRITE_BUFFER = 1024 * 1024
# A description is at most 500 characters, and a character at most 4 bytes of UTF-8.
MAX_DESCRIPTION_BYTES = MAX_DESCRIPTION * 4


@dataclass(frozen=True)
class FormField:
    """One field of an upload form; ``chunks`` must be read before the next field."""

    name: str
    filename: str | None
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True)
class StoredFile:
    """A stored file ready to send: where it is, what it is, and the name to save it as."""

    path: Path
    media_type: str
    filename: str
    size: int


@dataclass
class _Received:
    sniffed: Sniffed
    sha256: str
    size: int
    filename: str
    description: str
    preview_sha256: str | None = None


def safe_filename(raw: str | None, file_type: FileType) -> str:
    """The last path segment only, without control characters, ending in a suffix that
    matches the content (so a PNG named ``x.html`` is saved as ``x.html.png``)."""
    name = PurePath((raw or "").replace("\\", "/")).name
    name = clean_text(name, 10 * MAX_FILENAME).strip(" .")
    extension = PurePath(name).suffix
    if extension.lower() in file_type.extensions:
        stem, suffix = name[: -len(extension)], extension
    else:
        stem, suffix = name, file_type.extensions[0]
    return (stem or "attachment")[: MAX_FILENAME - len(suffix)] + suffix


class AttachmentService:
    def __init__(
        self,
        case_log: CaseLog,
        work: AuditedWork,
        sessionmaker: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        clock: Clock,
        max_upload_bytes: int,
    ) -> None:
        self._log = case_log
        self._work = work
        self._sessionmaker = sessionmaker
        self._blobs = blobs
        self._clock = clock
        self._max_upload_bytes = max_upload_bytes
        # Blobs that uploads in this process are about to record: a failing upload of the
        # same content must not delete the file from under them.
        self._in_flight: Counter[str] = Counter()

    async def upload(
        self,
        actor: Actor,
        case_id: int,
        form: AsyncIterator[FormField],
        *,
        from_recorder: bool = False,
    ) -> Json:
        """Store the form's file on the case; the attachment as the board shows it.

        Who may add a file is decided before a byte of the form is read: a stranger's
        upload is refused without receiving, storing or parsing the file.

        ``from_recorder`` is the server's own recorder handing over a session recording:
        only then are recordings accepted, and the upload size limit does not apply.
        """
        try:
            await self._require_uploader(actor, case_id)
            received = await self._receive(form, from_recorder)
        except DomainError as error:
            # Refused before any transaction: still one line in the trail for this attempt.
            entry = AuditEntry("attachment.upload", case_id)
            await self._work.record_alone(actor, entry, outcome_of(error))
            raise
        hashes = [received.sha256]
        if received.preview_sha256 is not None:
            hashes.append(received.preview_sha256)
        self._in_flight.update(hashes)
        try:
            stored = await self._record(actor, case_id, received)
        except BaseException:
            self._in_flight.subtract(hashes)
            await self._forget(hashes)
            raise
        self._in_flight.subtract(hashes)
        return stored

    async def download(self, actor: Actor, case_id: int, attachment_id: int) -> StoredFile:
        async with self._work(
            actor, "attachment.download", case_id=case_id, object_id=str(attachment_id)
        ) as unit:
            attachment = await self._visible_attachment(unit, actor, case_id, attachment_id)
            return await self._stored(
                attachment.sha256, attachment.media_type, attachment.filename, attachment.size
            )

    async def preview(self, actor: Actor, case_id: int, attachment_id: int) -> StoredFile:
        async with self._work(
            actor, "attachment.preview", case_id=case_id, object_id=str(attachment_id)
        ) as unit:
            attachment = await self._visible_attachment(unit, actor, case_id, attachment_id)
            if attachment.preview_sha256 is None:
                raise NotFound("This attachment has no preview.")
            stem = PurePath(attachment.filename).stem or "attachment"
            name = f"{stem[: MAX_FILENAME - 12]}-preview.png"
            return await self._stored(attachment.preview_sha256, PNG.media_type, name, None)

    async def _require_uploader(self, actor: Actor, case_id: int) -> None:
        """The rule ``_record`` applies again, under the case's lock, once the file is in."""
        async with self._sessionmaker() as db:
            case = await CaseRepository(db).get(case_id)
        require_open(access.require_clinical(actor.user, case))

    async def _visible_attachment(
        self, unit: Unit, actor: Actor, case_id: int, attachment_id: int
    ) -> Attachment:
        repo = CaseRepository(unit.db)
        # Reading files follows the board: a guest invited to the case sees its imaging.
        access.require_board(actor.user, await repo.get(case_id))
        attachment = await repo.attachment(case_id, attachment_id)
        if attachment is None:
            raise NotFound("No such attachment.")
        return attachment

    async def _stored(
        self, sha256: str, media_type: str, filename: str, size: int | None
    ) -> StoredFile:
        path = self._blobs.path(sha256)
        stat = await asyncio.to_thread(path.stat)  # missing: a broken store, answered 500
        return StoredFile(path, media_type, filename, stat.st_size if size is None else size)

    async def _receive(self, form: AsyncIterator[FormField], recording: bool) -> _Received:
        """Stream the form's file into a checked blob; nothing is left if this raises."""
        writer: BlobWriter | None = None
        filename: str | None = None
        description: str | None = None
        committed: str | None = None
        try:
            async for field in form:
                if field.name == "file" and writer is None:
                    writer = await asyncio.to_thread(self._blobs.writer)
                    filename = field.filename
                    await self._stream(field.chunks, writer, limited=not recording)
                elif field.name == "description" and description is None:
                    description = await _read_description(field.chunks)
                else:
                    # Field names are the client's words, not patient data; still kept short.
                    raise ValidationFailed(
                        [FieldProblem(field.name[:40], "unexpected or repeated field")]
                    )
            if writer is None:
                raise ValidationFailed([FieldProblem("file", "a file is required")])
            await asyncio.to_thread(writer.finish)
            sniffed = await asyncio.to_thread(
                sniff,
                writer.temp_path,
                recording=recording,
                # A deflated file may expand to no more than an uncompressed one may be.
                max_inflated=self._max_upload_bytes,
            )
            committed = await asyncio.to_thread(writer.commit)
            received = _Received(
                sniffed=sniffed,
                sha256=committed,
                size=writer.size,
                filename=safe_filename(filename, sniffed.type),
                description=description or sniffed.description,
            )
            if sniffed.preview_png is not None:
                received.preview_sha256 = await asyncio.to_thread(
                    self._blobs.put, sniffed.preview_png
                )
            return received
        except BaseException:
            if writer is not None:
                writer.discard()  # synchronous on purpose: it must run even when cancelled
            if committed is not None:
                await self._forget([committed])
            raise

    async def _stream(
        self, chunks: AsyncIterator[bytes], writer: BlobWriter, *, limited: bool = True
    ) -> None:
        buffer = bytearray()
        async for chunk in chunks:
            if limited and writer.size + len(buffer) + len(chunk) > self._max_upload_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than the limit of {megabytes(self._max_upload_bytes)}."
                )
            buffer += chunk
            if len(buffer) >= WRITE_BUFFER:
                await asyncio.to_thread(writer.write, bytes(buffer))
                buffer.clear()
        if buffer:
            await asyncio.to_thread(writer.write, bytes(buffer))

    async def _record(self, actor: Actor, case_id: int, received: _Received) -> Json:
        principal = actor.user
        async with self._log.change(actor, "attachment.upload", case_id) as change:
            case, repo, unit = change.case, change.repo, change.unit
            require_open(case)
            attachment = Attachment(
                case_id=case.id,
                seq=case.last_seq + 1,
                uploaded_by_id=principal.user_id,
                created_at=self._clock.now(),
                filename=received.filename,
                media_type=received.sniffed.type.media_type,
                kind=received.sniffed.type.kind,
                size=received.size,
                sha256=received.sha256,
                description=received.description,
                preview_sha256=received.preview_sha256,
            )
            repo.add(attachment)
            await repo.flush()
            unit.entry.object_id = str(attachment.id)
            uploader = (await repo.users({principal.user_id})).get(principal.user_id)
            stored = attachment_json(attachment, uploader)
            await change.append("attachment.added", {"attachment": stored})
        return stored

    async def _forget(self, hashes: list[str]) -> None:
        """Remove blobs of a failed upload that nothing else uses or is about to use."""
        for sha256 in hashes:
            if self._in_flight[sha256] > 0:
                continue
            async with self._sessionmaker() as db:
                referenced = await is_referenced(db, sha256)
            if not referenced:
                await asyncio.to_thread(self._blobs.remove, sha256)


async def _read_description(chunks: AsyncIterator[bytes]) -> str:
    raw = bytearray()
    async for chunk in chunks:
        raw += chunk
        if len(raw) > MAX_DESCRIPTION_BYTES:
            raise ValidationFailed([FieldProblem("description", "at most 500 characters")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([FieldProblem("description", "not UTF-8 text")]) from None
    text = unicodedata.normalize("NFC", text)
    if len(text.strip()) > MAX_DESCRIPTION:
        raise ValidationFailed([FieldProblem("description", "at most 500 characters")])
    return clean_text(text, MAX_DESCRIPTION, keep_newlines=True)
