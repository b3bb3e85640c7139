"""Content-addressed file storage for attachments: ``<directory>/ab/cdef...`` by SHA-256.

A blob is written to a temporary file in the store's own directory (the same file system,
so the final rename is atomic), hashed while it is written, flushed to disk, then renamed
to its address. Identical content therefore lands on one path and is stored once; a
reader never sees a half-written blob.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.cases.models import Attachment

TEMP_PREFIX = ".incoming-"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobWriter:
    """One blob being written: append chunks, then ``commit`` or ``discard``.

    The methods block on the disk; async callers run them in a thread.
    """

    def __init__(self, store: BlobStore, temp_path: Path, file: BinaryIO) -> None:
        self._store = store
        self.temp_path = temp_path
        self._file: BinaryIO | None = file
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        assert self._file is not None, "the blob is already committed or discarded"
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> str:
        """Flush the bytes to disk (before anything reads them back) and return the hash."""
        assert self._file is not None, "the blob is already committed or discarded"
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        return self._hash.hexdigest()

    def commit(self) -> str:
        """Move the finished temporary file to its address; its SHA-256 names it."""
        if self._file is not None:
            self.finish()
        sha256 = self._hash.hexdigest()
        target = self._store.path(sha256)
        if target.exists():
            # Same hash, same bytes: the content is already stored.
            self.temp_path.unlink(missing_ok=True)
            return sha256
        target.parent.mkdir(mode=0o700, exist_ok=True)
        os.replace(self.temp_path, target)
        _fsync_directory(target.parent)
        return sha256

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.temp_path.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.directory / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def writer(self) -> BlobWriter:
        temp_path = self.directory / f"{TEMP_PREFIX}{secrets.token_hex(16)}"
        # O_EXCL: never follow or reuse an existing file at that name. 0600: patient data.
        fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return BlobWriter(self, temp_path, os.fdopen(fd, "wb"))

    def put(self, data: bytes) -> str:
        """Store small content held in memory (a preview) and return its hash."""
        writer = self.writer()
        try:
            writer.write(data)
            return writer.commit()
        except BaseException:
            writer.discard()
            raise

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable, not only the file's bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def is_referenced(session: AsyncSession, sha256: str) -> bool:
    """Whether any attachment row points at this blob, as its content or its preview."""
    count = await session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(or_(Attachment.sha256 == sha256, Attachment.preview_sha256 == sha256))
    )
    return bool(count)
