"""Signed checkpoints of the audit chain: Ed25519 over (seq, hash, at).

A checkpoint exported off the server pins the chain up to its position: a later rewrite
of that prefix (even with every hash recomputed) or a truncation below it no longer
verifies against it. The private key lives in the data directory, outside the database,
so someone who can only change the database cannot sign a checkpoint for a rewritten chain.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from telemed.audit.chain import timestamp
from telemed.keyfiles import create_once

PRIVATE_KEY_FILE = "audit-signing-key.pem"
PUBLIC_KEY_FILE = "audit-signing-key.pub.pem"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    public_key: str
    signature: str

    def signed_part(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at}

    def as_json(self) -> dict[str, Any]:
        return {**self.signed_part(), "public_key": self.public_key, "signature": self.signature}


def signed_message(seq: int, hash_: str, at: str) -> bytes:
    """The canonical JSON that is signed: sorted keys, no spaces, UTF-8."""
    fields = {"seq": seq, "hash": hash_, "at": at}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class CheckpointSigner:
    """Signs checkpoints with the server's key and checks them against it."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key()
        self.public_key = _b64(_raw_public(self._public_key))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> CheckpointSigner:
        """The key in ``data_dir``, generated (mode 0600) the first time."""
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        private_path = data_dir / PRIVATE_KEY_FILE
        if not private_path.exists():
            _create_key_file(private_path)
        signer = cls.from_file(private_path)
        public_path = data_dir / PUBLIC_KEY_FILE
        if not public_path.exists():
            public_pem = signer._public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            public_path.write_bytes(public_pem)
        return signer

    def derive_key(self, purpose: str) -> bytes:
        """A 256-bit secret for ``purpose`` derived from this key (HKDF): other parts of
        the server sign with it, and it reveals nothing about the checkpoint key."""
        raw = self._private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return HKDF(hashes.SHA256(), 32, salt=None, info=purpose.encode()).derive(raw)

    def sign(self, seq: int, hash_: str, at: datetime) -> Checkpoint:
        stamp = timestamp(at)
        signature = self._private_key.sign(signed_message(seq, hash_, stamp))
        return Checkpoint(seq, hash_, stamp, self.public_key, _b64(signature))

    def problem(self, checkpoint: Checkpoint) -> str | None:
        """Why the checkpoint cannot be trusted, or None when this server's key signed it.

        The signature is checked against the key in the data directory, never against the
        key the checkpoint names (anyone can name their own key).
        """
        return checkpoint_problem(checkpoint, self._public_key)

    @classmethod
    def from_file(cls, path: Path) -> CheckpointSigner:
        """A signing key kept elsewhere (restoring a backup), read as the server reads its own."""
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(loaded)


def checkpoint_problem(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> str | None:
    """Why the checkpoint was not signed by ``public_key``'s private half, or None."""
    if not secrets.compare_digest(checkpoint.public_key, _b64(_raw_public(public_key))):
        return "the checkpoint was signed by another key than this server's"
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        message = signed_message(checkpoint.seq, checkpoint.hash, checkpoint.at)
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError):
        return "the checkpoint's signature is not valid"
    return None


def _create_key_file(path: Path) -> None:
    """A new key, never exposed (another process's key wins a race)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_once(path, pem)
