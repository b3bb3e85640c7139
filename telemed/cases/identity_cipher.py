"""Patient identity at rest: AES-256-GCM, bound to its case.

The key is ``TELEMED_IDENTITY_KEY`` (32 bytes, URL-safe base64) or the file
``<data_dir>/identity.key``, generated (mode 0600) the first time the server starts. The
database holds only what ``seal`` returns: a version byte, a random 96-bit nonce and the
ciphertext of the identity's JSON, authenticated with the case id as associated data, so a
sealed identity copied onto another case's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from telemed.keyfiles import create_once
from telemed.settings import Settings

KEY_FILE = "identity.key"
KEY_BYTES = 32
NONCE_BYTES = 12
# The first byte of every sealed identity: how it was sealed (a later key rotation or
# algorithm reads it to know which key and which scheme opens a row).
FORMAT_V1 = b"\x01"


class IdentityKeyError(Exception):
    """The configured or stored identity key is not a 256-bit key."""


class IdentityUnreadable(Exception):
    """A sealed identity that this key does not open (another key, or altered bytes)."""


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        raise IdentityKeyError(f"{where} is not URL-safe base64") from None
    if len(key) != KEY_BYTES:
        raise IdentityKeyError(f"{where} must hold {KEY_BYTES} bytes, not {len(key)}")
    return key


def _create_key_file(path: Path) -> None:
    """A new key, private from its first byte (another process's key wins a race)."""
    create_once(path, base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")


class IdentityCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise IdentityKeyError(f"the identity key must hold {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityCipher:
        """The configured key, else the data directory's (created the first time)."""
        if settings.identity_key:
            return cls(_decode_key(settings.identity_key, "TELEMED_IDENTITY_KEY"))
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = settings.data_dir / KEY_FILE
        if not path.exists():
            _create_key_file(path)
        return cls(_decode_key(path.read_text(), str(path)))

    def seal(self, case_id: int, identity: dict[str, str]) -> bytes:
        plain = json.dumps(identity, ensure_ascii=False, sort_keys=True).encode()
        nonce = secrets.token_bytes(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, plain, _associated(case_id))

    def open(self, case_id: int, sealed: bytes) -> dict[str, str]:
        version, nonce, body = sealed[:1], sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        if version != FORMAT_V1:
            raise IdentityUnreadable(f"case {case_id}: unknown identity format")
        try:
            plain = self._aead.decrypt(nonce, body, _associated(case_id))
        except InvalidTag:
            raise IdentityUnreadable(f"case {case_id}: the identity key does not open it") from None
        opened: dict[str, str] = json.loads(plain)
        return opened


def _associated(case_id: int) -> bytes:
    return f"telemed case identity {case_id}".encode()
