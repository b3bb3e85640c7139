"""Secret files (the audit signing key, the identity key): written private from their
first byte, once, whichever process of several gets there first."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def create_once(path: Path, content: bytes) -> None:
    """``content`` at ``path`` unless a file is there already: a 0600 temporary file, then an
    atomic link that fails when another process got there first (then its file wins)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
