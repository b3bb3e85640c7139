"""The backup archive: a tar of named files, a manifest of their SHA-256 sums, optional age.

Layout (every name relative, every member a regular file):

    manifest.json             format, when, database kind and schema revision, the audit
                              checkpoint, and {name: {sha256, size}} of every other member
    database/telemed.db       SQLite: a copy made through SQLite's online backup API
    database/telemed.dump     PostgreSQL: pg_dump's custom format, one consistent snapshot
    blobs/ab/cdef...          the attachment files (recordings included) the database names
    audit/public-key.pem      the public half of the audit signing key
    audit/checkpoint.json     a checkpoint of the chain signed when the backup was made

Reading refuses anything the manifest does not describe exactly: a missing, extra, altered
or oddly named member makes the whole archive "damaged". Encryption is age (X25519
recipients) through pyrage, streamed from file to file, so memory stays small whatever
the archive's size.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyrage

FORMAT = "telemed-backup/1"
MANIFEST = "manifest.json"
AGE_MAGIC = b"age-encryption.org/v1"
CHUNK = 1024 * 1024
_NAME = re.compile(r"(database|blobs|audit)(/[A-Za-z0-9._-]+)+")


class DamagedArchive(Exception):
    """The archive cannot be trusted: nothing of it is restored."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Manifest:
    created_at: str
    database: str  # "sqlite" or "postgresql"
    revision: str | None
    checkpoint: dict[str, Any]
    audit_rows: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": self.created_at,
            "database": self.database,
            "revision": self.revision,
            "checkpoint": self.checkpoint,
            "audit_rows": self.audit_rows,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DamagedArchive(f"not a Telemed backup of format {FORMAT}")
        try:
            manifest = cls(
                created_at=str(data["created_at"]),
                database=str(data["database"]),
                revision=data["revision"],
                checkpoint=dict(data["checkpoint"]),
                audit_rows=int(data["audit_rows"]),
                files={str(k): dict(v) for k, v in dict(data["files"]).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DamagedArchive(f"the manifest is incomplete: {error}") from None
        if manifest.database not in ("sqlite", "postgresql"):
            raise DamagedArchive("the manifest names an unknown database kind")
        for name in manifest.files:
            if not _NAME.fullmatch(name) or ".." in PurePosixPath(name).parts:
                raise DamagedArchive(f"the manifest names an unsafe path: {name!r}")
        return manifest


class ArchiveWriter:
    """Adds files to a new tar, hashing each; ``close`` writes the manifest last."""

    def __init__(self, path: Path) -> None:
        self._tar = tarfile.open(path, "w")  # noqa: SIM115 - closed in close()
        self.files: dict[str, dict[str, Any]] = {}

    def add(self, name: str, source: Path) -> None:
        self.files[name] = {"sha256": sha256_of(source), "size": source.stat().st_size}
        info = self._tar.gettarinfo(str(source), arcname=name)
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
        with source.open("rb") as file:
            self._tar.addfile(info, file)

    def close(self, manifest: Manifest, staging: Path) -> None:
        manifest.files = self.files
        path = staging / MANIFEST
        path.write_text(json.dumps(manifest.as_json(), indent=1, sort_keys=True))
        self._tar.add(str(path), arcname=MANIFEST)
        self._tar.close()


def read_archive(path: Path, into: Path) -> Manifest:
    """Check every member against the manifest while extracting it under ``into``."""
    try:
        with tarfile.open(path, "r") as tar:
            members = {m.name: m for m in tar.getmembers()}
            entry = members.pop(MANIFEST, None)
            if entry is None or not entry.isfile():
                raise DamagedArchive("the archive has no manifest")
            handle = tar.extractfile(entry)
            assert handle is not None
            manifest = Manifest.from_json(json.loads(handle.read(16 * 1024 * 1024)))
            if set(members) != set(manifest.files):
                missing = sorted(set(manifest.files) - set(members))[:3]
                extra = sorted(set(members) - set(manifest.files))[:3]
                raise DamagedArchive(f"members differ from the manifest: {missing=} {extra=}")
            for name, member in members.items():
                _extract(tar, member, manifest.files[name], into / name)
    except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError, UnicodeError) as error:
        raise DamagedArchive(f"the archive cannot be read: {error}") from None
    return manifest


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo, expected: dict[str, Any], to: Path
) -> None:
    if not member.isfile():
        raise DamagedArchive(f"{member.name} is not a regular file")
    source = tar.extractfile(member)
    assert source is not None
    to.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    with to.open("xb") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            target.write(chunk)
    to.chmod(0o600)
    if digest.hexdigest() != expected.get("sha256") or to.stat().st_size != expected.get("size"):
        raise DamagedArchive(f"{member.name} does not match its SHA-256 in the manifest")


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(AGE_MAGIC)) == AGE_MAGIC


def encrypt(source: Path, target: Path, recipients: list[str]) -> None:
    try:
        keys = [pyrage.x25519.Recipient.from_str(r.strip()) for r in recipients]
    except pyrage.RecipientError as error:
        raise ValueError(f"not an age X25519 public key: {error}") from None
    pyrage.encrypt_file(str(source), str(target), keys)


def decrypt(source: Path, target: Path, identity_file: Path) -> None:
    lines = identity_file.read_text().splitlines()
    secrets = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    try:
        identities = [pyrage.x25519.Identity.from_str(s) for s in secrets]
        pyrage.decrypt_file(str(source), str(target), identities)
    except (pyrage.IdentityError, pyrage.DecryptError) as error:
        raise DamagedArchive(
            f"the archive cannot be decrypted with that identity: {error}"
        ) from None


def move_tree(source: Path, target: Path) -> int:
    """Move every file under ``source`` to the same place under ``target``; count them."""
    moved = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        to = target / path.relative_to(source)
        to.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.move(str(path), str(to))
        moved += 1
    return moved
