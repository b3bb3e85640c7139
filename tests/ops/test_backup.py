"""Backup while the server runs, restore into an empty place, and the proof of both.

Every step is the real command (``python -m telemed backup|restore|audit verify``) against
the database and data directory of a running server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call
from tests.support.attachments import png_bytes, upload
from tests.support.cases import create_case
from tests.support.server import RunningServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ran:
    code: int
    out: str


async def telemed(*args: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telemed",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return Ran(process.returncode, out.decode())


def place(url: str, data_dir: Path) -> list[str]:
    return ["--database-url", url, "--data-dir", str(data_dir)]


async def a_case_with_notes_and_a_file(server: RunningServer) -> tuple[int, bytes]:
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor))["id"])
    for n in range(3):
        body = {"body": f"Ghi chú {n}"}
        await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", body, expect=201)
    image = png_bytes()
    await upload(doctor, case_id, image, "ecg.png", content_type="image/png")
    return case_id, image


async def test_backup_while_serving_then_restore_into_an_empty_place_verifies(
    server: RunningServer,
    make_settings: Callable[..., Settings],
    empty_database_url: str,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    case_id, image = await a_case_with_notes_and_a_file(server)
    source = server.settings
    archive = tmp_path / "backups" / "b.tar"
    doctor = await server.sign_in("bs.namcan")

    async def keep_writing() -> None:
        for n in range(10):
            body = {"body": f"Trong lúc sao lưu {n}"}
            await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", body, expect=201)

    made, _ = await asyncio.gather(
        telemed("backup", "--output", str(archive), *place(source.database_url, source.data_dir)),
        keep_writing(),
    )
    assert made.code == 0, made.out
    assert archive.stat().st_mode & 0o777 == 0o600

    restored_dir = tmp_path / "restored"
    key = source.data_dir / "audit-signing-key.pem"
    back = await telemed(
        "restore",
        str(archive),
        "--signing-key",
        str(key),
        *place(empty_database_url, restored_dir),
    )
    assert back.code == 0, back.out
    assert "rows intact" in back.out
    assert "every SHA-256 checked" in back.out
    checked = await telemed("audit", "verify", *place(empty_database_url, restored_dir))
    assert checked.code == 0, checked.out

    # The restored server serves the same case and the same file, byte for byte.
    restored = RunningServer(
        make_settings(database_url=empty_database_url, data_dir=restored_dir), clock
    )
    await restored.start()
    try:
        reader = await restored.sign_in("bs.namcan")
        board = await call(reader, "GET", f"/api/v1/cases/{case_id}")
        assert [n["body"] for n in board["notes"]][:3] == [f"Ghi chú {n}" for n in range(3)]
        [attachment] = board["attachments"]
        path = f"/api/v1/cases/{case_id}/attachments/{attachment['id']}"
        async with reader.http.get(path, headers=reader.bearer) as response:
            assert response.status == 200
            assert await response.read() == image
    finally:
        await restored.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_damaged_archive_or_a_place_not_empty_is_refused_and_nothing_is_restored(
    server: RunningServer, empty_database_url: str, tmp_path: Path
) -> None:
    await a_case_with_notes_and_a_file(server)
    source = server.settings
    archive = tmp_path / "b.tar"
    made = await telemed(
        "backup", "--output", str(archive), *place(source.database_url, source.data_dir)
    )
    assert made.code == 0, made.out

    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as original, tarfile.open(damaged, "w") as copy:
        for member in original.getmembers():
            data = original.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name.startswith("blobs/"):
                content = content[:-1] + bytes([content[-1] ^ 1])
            copy.addfile(member, io.BytesIO(content))
    target = tmp_path / "restored"
    refused = await telemed("restore", str(damaged), *place(empty_database_url, target))
    assert refused.code == 1
    assert "damaged" in refused.out
    assert "does not match its SHA-256" in refused.out
    assert not (target / "blobs").exists()

    refused = await telemed("restore", str(archive), *place(source.database_url, source.data_dir))
    assert refused.code == 1
    assert "restore refused" in refused.out


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_encrypted_archive_needs_its_identity(
    server: RunningServer, empty_database_url: str, tmp_path: Path
) -> None:
    await a_case_with_notes_and_a_file(server)
    identity = pyrage.x25519.Identity.generate()
    identity_file = tmp_path / "backup-identity.txt"
    identity_file.write_text(f"{identity}\n")
    source = server.settings
    backups = tmp_path / "backups"
    for _ in range(2):
        made = await telemed(
            "backup",
            "--directory",
            str(backups),
            "--keep",
            "1",
            "--recipient",
            str(identity.to_public()),
            *place(source.database_url, source.data_dir),
        )
        assert made.code == 0, made.out
        await asyncio.sleep(1.1)  # the archives are named by the second
    kept = sorted(backups.glob("telemed-backup-*.tar.age"))
    assert len(kept) == 1
    assert kept[-1].read_bytes().startswith(b"age-encryption.org/v1")

    target = tmp_path / "restored"
    refused = await telemed("restore", str(kept[-1]), *place(empty_database_url, target))
    assert refused.code == 1
    assert "--identity" in refused.out
    other = tmp_path / "other.txt"
    other.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    refused = await telemed(
        "restore", str(kept[-1]), "--identity", str(other), *place(empty_database_url, target)
    )
    assert refused.code == 1
    back = await telemed(
        "restore",
        str(kept[-1]),
        "--identity",
        str(identity_file),
        *place(empty_database_url, target),
    )
    assert back.code == 0, back.out
    assert "rows intact" in back.out
