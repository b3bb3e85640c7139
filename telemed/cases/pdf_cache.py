"""Finished PDFs kept on disk in the data directory, so a version is laid out once.

A PDF is stored under its key (a digest of what it shows), one file each, 0600 in a 0700
directory, like the attachments. The files hold at most ``max_bytes`` together: past
that, the least recently read go first. The directory is emptied at start-up, so a new
release's template or translations never serve an old layout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".pdf"
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class PdfCache:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self._directory = directory
        self._max_bytes = max_bytes

    def reset(self) -> None:
        """Forget every stored PDF (blocking: at start-up)."""
        shutil.rmtree(self._directory, ignore_errors=True)

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self._read, self._path(key))

    async def put(self, key: str, pdf: bytes, *, replaces: str) -> None:
        """Store ``pdf``; earlier files whose key starts with ``replaces`` are stale.

        A cache that cannot be written (disk full, the directory emptied by another
        process starting on the same data directory) costs a later layout, never this
        request: the failure is logged and the PDF still served.
        """
        try:
            await asyncio.to_thread(self._write, self._path(key), pdf, replaces)
        except OSError as error:
            log.warning("a finished PDF was not cached: %s", error.strerror)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("a cache key is letters, digits, '-' and '_'")
        return self._directory / (key + SUFFIX)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            data = path.read_bytes()
            os.utime(path)  # read recently: evicted last
        except FileNotFoundError:  # never stored, or evicted meanwhile
            return None
        except OSError as error:  # an unreadable cache is a miss, never a failed request
            log.warning("a cached PDF could not be read: %s", error.strerror)
            return None
        return data

    def _write(self, path: Path, pdf: bytes, replaces: str) -> None:
        self._directory.mkdir(mode=0o700, exist_ok=True)
        for stale in self._directory.glob(f"{replaces}*{SUFFIX}"):
            stale.unlink(missing_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pdf)
        partial.replace(path)
        self._evict()

    def _evict(self) -> None:
        files = []
        for path in self._directory.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self._max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
