"""``telemed backup`` and ``telemed restore``: one consistent archive, and a proven way back.

Backup, while the server runs: an audit row ``backup.create`` first, then the database
(SQLite through its online backup API, PostgreSQL through ``pg_dump``, each one consistent
snapshot), then a checkpoint of the audit chain signed with the server's key at a row
the snapshot holds, the public half of that key, and every attachment file the database
names (content-addressed and never rewritten, so copying them after the snapshot is
safe). See ``telemed.ops.archive`` for the format.

Restore: refuses a damaged archive before touching anything, refuses a target that is not
empty, puts the database and files in place, then proves the result: the checkpoint's
signature against the archived public key, the chain walked up to the checkpoint and the
signed records it seals (as ``telemed audit verify`` does), and every file the database
names present with its hash. The private signing key is never in an archive: keep it
apart and hand it to ``restore --signing-key`` (or copy it into the data directory)
before serving.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import inspect, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from telemed.accounts.principal import Actor
from telemed.audit.checkpoints import (
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    Checkpoint,
    CheckpointSigner,
    checkpoint_problem,
)
from telemed.audit.log import AuditLog
from telemed.audit.repository import AuditRepository
from telemed.audit.verify import ChainVerifier
from telemed.audit.work import AuditedWork
from telemed.cases.blobs import BlobStore
from telemed.cases.models import Attachment
from telemed.cases.seals import SealCheck
from telemed.clock import Clock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import current_revision
from telemed.ops.archive import (
    ArchiveWriter,
    DamagedArchive,
    Manifest,
    decrypt,
    encrypt,
    is_encrypted,
    move_tree,
    read_archive,
    sha256_of,
)
from telemed.settings import Settings

SQLITE_NAME = "database/telemed.db"
PG_NAME = "database/telemed.dump"
PUBLIC_KEY_NAME = "audit/public-key.pem"
CHECKPOINT_NAME = "audit/checkpoint.json"


class RestoreRefused(Exception):
    """The target is not empty, or what was restored does not prove itself."""


@dataclass
class RestoreReport:
    database: str
    revision: str | None
    audit_rows: int
    checkpoint_seq: int
    files: int
    bytes: int

    def lines(self) -> list[str]:
        return [
            f"database: {self.database} (schema revision {self.revision})",
            f"audit chain: {self.audit_rows} rows intact, signed checkpoint at row "
            f"{self.checkpoint_seq} verified",
            f"files: {self.files} ({self.bytes} bytes), every SHA-256 checked",
        ]


class Backups:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self._url = settings.effective_database_url
        self._kind = (
            "sqlite" if make_url(self._url).get_backend_name() == "sqlite" else "postgresql"
        )

    # --- backup -------------------------------------------------------------------------

    async def create(self, output: Path, actor: Actor, recipients: list[str]) -> Manifest:
        """Write the archive to ``output`` (mode 0600), replacing nothing until it is whole."""
        output.parent.mkdir(parents=True, exist_ok=True)
        signer = CheckpointSigner.load_or_create(self._settings.data_dir)
        with tempfile.TemporaryDirectory(dir=output.parent, prefix=".backup-") as tmp:
            staging = Path(tmp)
            async with _engine(self._url) as engine:
                await self._record(engine, actor, "backup.create")
                if self._kind == "postgresql":
                    # The checkpoint is taken first: the snapshot after it holds its row.
                    checkpoint, rows = await self._checkpoint(engine, signer)
                    database = staging / "telemed.dump"
                    await _pg_dump(self._url, database)
                    shas = await _referenced_blobs(engine)
                    revision = await current_revision(engine)
            if self._kind == "sqlite":
                database = staging / "telemed.db"
                await asyncio.to_thread(_sqlite_copy, _sqlite_path(self._url), database)
                async with _engine(f"sqlite+aiosqlite:///{database}") as copy:
                    checkpoint, rows = await self._checkpoint(copy, signer)
                    shas = await _referenced_blobs(copy)
                    revision = await current_revision(copy)
            manifest = Manifest(self._clock.now().isoformat(), self._kind, revision, {}, rows)
            manifest.checkpoint = checkpoint.as_json()
            plain = staging / "archive.tar"
            await asyncio.to_thread(self._write, plain, staging, database, shas, manifest)
            final = staging / "archive.final"
            if recipients:
                await asyncio.to_thread(encrypt, plain, final, recipients)
            else:
                plain.rename(final)
            final.chmod(0o600)
            final.replace(output)
        return manifest

    def _write(
        self, plain: Path, staging: Path, database: Path, shas: set[str], manifest: Manifest
    ) -> None:
        blobs = BlobStore(self._settings.data_dir / "blobs")
        (staging / "checkpoint.json").write_text(json.dumps(manifest.checkpoint, indent=1))
        archive = ArchiveWriter(plain)
        archive.add(SQLITE_NAME if self._kind == "sqlite" else PG_NAME, database)
        for sha in sorted(shas):
            archive.add(f"blobs/{sha[:2]}/{sha[2:]}", blobs.path(sha))
        archive.add(PUBLIC_KEY_NAME, self._settings.data_dir / PUBLIC_KEY_FILE)
        archive.add(CHECKPOINT_NAME, staging / "checkpoint.json")
        archive.close(manifest, staging)

    async def _checkpoint(
        self, engine: AsyncEngine, signer: CheckpointSigner
    ) -> tuple[Checkpoint, int]:
        async with create_sessionmaker(engine)() as db, db.begin():
            last = await AuditRepository(db).last()
        assert last is not None, "backup.create's own row is in the chain"
        seq, hash_ = last
        return signer.sign(seq, hash_, self._clock.now()), seq

    async def _record(self, engine: AsyncEngine, actor: Actor, action: str) -> None:
        work = AuditedWork(create_sessionmaker(engine), AuditLog(self._clock))
        async with work(actor, action):
            pass

    # --- restore ------------------------------------------------------------------------

    async def restore(
        self, archive: Path, actor: Actor, identity: Path | None, signing_key: Path | None
    ) -> RestoreReport:
        data_dir = self._settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as tmp:
            staging = Path(tmp)
            plain = archive
            if is_encrypted(archive):
                if identity is None:
                    raise DamagedArchive("the archive is encrypted: give --identity")
                plain = staging / "archive.tar"
                await asyncio.to_thread(decrypt, archive, plain, identity)
            elif identity is not None:
                raise DamagedArchive("the archive is not encrypted, but an identity was given")
            files = staging / "files"
            manifest = await asyncio.to_thread(read_archive, plain, files)
            if manifest.database != self._kind:
                raise RestoreRefused(
                    f"the archive holds a {manifest.database} database; the target is {self._kind}"
                )
            public_pem = (files / PUBLIC_KEY_NAME).read_bytes()
            public_key = _public_key(public_pem)
            checkpoint = _checkpoint_from(manifest.checkpoint)
            problem = checkpoint_problem(checkpoint, public_key)
            if problem is not None:
                raise DamagedArchive(f"the archived checkpoint: {problem}")
            key_file = _checked_signing_key(signing_key, public_pem) if signing_key else None
            await self._require_empty(public_pem)
            await self._put_database(files, manifest)
            count = (
                move_tree(files / "blobs", data_dir / "blobs") if (files / "blobs").exists() else 0
            )
            _install_keys(data_dir, public_pem, key_file)
        return await self._prove(manifest, checkpoint, count, actor)

    async def _require_empty(self, public_pem: bytes) -> None:
        own_key = self._settings.data_dir / PRIVATE_KEY_FILE
        if own_key.exists():
            _checked_signing_key(own_key, public_pem)
        blobs = self._settings.data_dir / "blobs"
        if blobs.exists() and any(blobs.iterdir()):
            raise RestoreRefused(f"{blobs} is not empty: restore only into an empty place")
        if self._kind == "sqlite":
            if _sqlite_path(self._url).exists():
                raise RestoreRefused(
                    f"{_sqlite_path(self._url)} exists: restore only into an empty place"
                )
            return
        async with _engine(self._url) as engine, engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        if tables:
            raise RestoreRefused("the target database has tables: restore only into an empty one")

    async def _put_database(self, files: Path, manifest: Manifest) -> None:
        if self._kind == "sqlite":
            target = _sqlite_path(self._url)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.move(str(files / SQLITE_NAME), str(target))
            target.chmod(0o600)
            return
        await _pg_restore(self._url, files / PG_NAME)

    async def _prove(
        self, manifest: Manifest, checkpoint: Checkpoint, count: int, actor: Actor
    ) -> RestoreReport:
        blobs = BlobStore(self._settings.data_dir / "blobs")
        async with _engine(self._url) as engine:
            sessionmaker = create_sessionmaker(engine)
            # The verification of `telemed audit verify`: the chain, then the signed
            # decisions and notes it seals.
            verifier = ChainVerifier(sessionmaker, records=(SealCheck(sessionmaker),))
            result = await verifier.verify(checkpoint)
            if not result.ok:
                raise RestoreRefused(
                    f"the restored audit chain does not verify at row {result.first_bad_seq}: "
                    f"{result.reason}"
                )
            size = 0
            for sha in sorted(await _referenced_blobs(engine)):
                path = blobs.path(sha)
                if not path.is_file() or await asyncio.to_thread(sha256_of, path) != sha:
                    raise RestoreRefused(
                        f"the file {sha} named by the database is missing or altered"
                    )
                size += path.stat().st_size
            revision = await current_revision(engine)
            await self._record(engine, actor, "backup.restore")
        return RestoreReport(manifest.database, revision, result.rows, checkpoint.seq, count, size)


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest archives that ``telemed backup --directory`` wrote."""
    archives = sorted(directory.glob("telemed-backup-*.tar*"), key=lambda p: p.name, reverse=True)
    removed = [p for p in archives[keep:] if p.suffix in (".tar", ".age")]
    for path in removed:
        path.unlink()
    return removed


@asynccontextmanager
async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _referenced_blobs(engine: AsyncEngine) -> set[str]:
    query = select(Attachment.sha256, Attachment.preview_sha256).where(
        or_(Attachment.sha256.is_not(None), Attachment.preview_sha256.is_not(None))
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return {sha for row in rows for sha in row if sha}


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    assert database, "an SQLite URL names a file"
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the server keeps writing."""
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL and environment for pg_dump/pg_restore (the password not on argv)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


async def _run(command: list[str], env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {stderr.decode(errors='replace')[-2000:]}")


async def _pg_dump(url: str, target: Path) -> None:
    dsn, env = _libpq(url)
    await _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", dsn], env)


async def _pg_restore(url: str, source: Path) -> None:
    dsn, env = _libpq(url)
    command = [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
    ]
    await _run([*command, f"--dbname={dsn}", str(source)], env)


def _public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise DamagedArchive("the archived public key cannot be read") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DamagedArchive("the archived public key is not an Ed25519 key")
    return key


def _checkpoint_from(data: dict[str, Any]) -> Checkpoint:
    try:
        return Checkpoint(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            at=str(data["at"]),
            public_key=str(data["public_key"]),
            signature=str(data["signature"]),
        )
    except (KeyError, TypeError, ValueError):
        raise DamagedArchive("the archived checkpoint is incomplete") from None


def _checked_signing_key(path: Path, public_pem: bytes) -> Path:
    signer = CheckpointSigner.from_file(path)
    archived = base64.b64encode(
        _public_key(public_pem).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    ).decode()
    if signer.public_key != archived:
        raise RestoreRefused(f"{path} is not the signing key the archive's checkpoint names")
    return path


def _install_keys(data_dir: Path, public_pem: bytes, private: Path | None) -> None:
    public = data_dir / PUBLIC_KEY_FILE
    if not public.exists():
        public.write_bytes(public_pem)
        public.chmod(0o600)
    if private is not None and not (data_dir / PRIVATE_KEY_FILE).exists():
        shutil.copyfile(private, data_dir / PRIVATE_KEY_FILE)
        (data_dir / PRIVATE_KEY_FILE).chmod(0o600)
