"""Uploads that try to make the server pay: a stranger's file is refused before it is
read, and a deflate bomb is refused while the serving process's memory stays flat."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from sqlalchemy import select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from tests.support.attachments import STUDY, Field, dicom_dataset, multipart, stored, upload
from tests.support.cases import NEW_CASE, create_case, to_scheduled
from tests.support.databases import SqliteTemplate
from tests.support.guests import guest_from, invite
from tests.support.participants import sign_in
from tests.support.processes import ServerProcess
from tests.support.server import RunningServer

MiB = 1024 * 1024
# What the bomb expands to: five times the upload limit, a quarter of a gigabyte.
BOMB_EXPANDS_TO = 256 * MiB
# A refused bomb may cost the server a few pieces of inflated data, never the bomb.
MAX_RSS_GROWTH = 32 * MiB
# Generous on a loaded machine; the stranger's answer must come while the file is unsent.
ANSWER_WITHIN = 30


def deflate_bomb(expands_to: int) -> bytes:
    """A Part-10 file in Deflated Explicit VR Little Endian whose pixel data is
    ``expands_to`` zero bytes: about a thousandth of that on the wire."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 192"
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.StudyDescription = STUDY
    dataset.Rows = dataset.Columns = 16384
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, dataset)
    # (7FE0,0010) Pixel Data, OB, then its 32-bit length: the zeros follow.
    pixel_data = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, expands_to)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [head.getvalue(), deflater.compress(body.getvalue() + pixel_data)]
    zeros = bytes(MiB)
    parts += [deflater.compress(zeros) for _ in range(expands_to // MiB)]
    parts.append(deflater.flush())
    return b"".join(parts)


def deflated_dicom() -> bytes:
    dataset = dicom_dataset()
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


# --- a stranger's upload ------------------------------------------------------------------


async def only_the_head(server: RunningServer, token: str, case_id: int) -> tuple[int, Any]:
    """Announce a 50 MiB DICOM upload, send its first kilobyte and wait for the answer,
    the rest of the file never sent."""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        request = (
            f"POST /api/v1/cases/{case_id}/attachments HTTP/1.1\r\n"
            f"Host: {url.netloc}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {50 * MiB}\r\n\r\n"
            '--b\r\nContent-Disposition: form-data; name="file"; filename="ct.dcm"\r\n\r\n'
        )
        writer.write(request.encode() + deflate_bomb(MiB)[:1024])
        await writer.drain()
        async with asyncio.timeout(ANSWER_WITHIN):
            status_line = await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()).strip():
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), json.loads(body)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("stranger", "status"),
    [("bs.uminh", 404), ("kiemtra", 403), ("guest of another case", 404)],
)
async def test_a_strangers_upload_is_refused_before_the_file_is_received(
    server: RunningServer, stranger: str, status: int
) -> None:
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = (await create_case(doctor))["id"]
    if stranger.startswith("guest"):
        other = (await create_case(doctor))["id"]
        await to_scheduled(chair, other)
        guest = await guest_from(server, await invite(chair, other))
        token, username = guest.token, guest.user["username"]
    else:
        token, username = (await server.sign_in(stranger)).token, stranger
    before = await stored(server, case_id)

    refused = await only_the_head(server, token, case_id)

    assert refused[0] == status
    if status == 404:
        assert refused == await only_the_head(server, token, case_id + 1000)
    assert await stored(server, case_id) == before
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = (
            await db.scalars(
                select(AuditRecord).where(
                    AuditRecord.action == "attachment.upload", AuditRecord.case_id == case_id
                )
            )
        ).all()
    assert [(row.actor_username, row.outcome) for row in rows] == [(username, "denied")]


# --- a deflate bomb -----------------------------------------------------------------------


def reset_peak_memory(pid: int) -> None:
    """Start the process's ``VmHWM`` again from its resident size now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture
async def server_process(
    tmp_path: Path, sqlite_template: SqliteTemplate
) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(sqlite_template.clone(tmp_path), tmp_path / "data")
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def test_a_deflate_bomb_is_refused_and_the_servers_memory_stays_flat(
    server_process: ServerProcess,
) -> None:
    bomb = deflate_bomb(BOMB_EXPANDS_TO)
    assert len(bomb) < MiB
    url = server_process.url
    async with aiohttp.ClientSession() as http:
        bearer = {"Authorization": f"Bearer {await sign_in(http, url, 'bs.namcan')}"}
        async with http.post(f"{url}/api/v1/cases", json=NEW_CASE, headers=bearer) as response:
            assert response.status == 201
            case_id = (await response.json())["id"]
        assert server_process.process is not None
        pid = server_process.process.pid
        reset_peak_memory(pid)
        resident = memory_kib(pid, "VmRSS")

        body, content_type = multipart([Field("file", bomb, "bomb.dcm")])
        async with http.post(
            f"{url}/api/v1/cases/{case_id}/attachments",
            data=body,
            headers={**bearer, "Content-Type": content_type},
        ) as response:
            status, refused = response.status, await response.json()
        growth = (memory_kib(pid, "VmHWM") - resident) * 1024
    assert growth < MAX_RSS_GROWTH, f"the server grew by {growth / MiB:.0f} MiB"
    assert status == 413, refused
    assert refused["error"]["code"] == "payload_too_large"
    assert "deflated" in refused["error"]["message"]
    blobs = server_process.data_dir / "blobs"
    assert [path for path in blobs.rglob("*") if path.is_file()] == []


async def test_a_deflated_dicom_within_the_limit_is_read_and_previewed(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = (await create_case(doctor))["id"]
    created = await upload(doctor, case_id, deflated_dicom(), "ct.dcm")
    assert (created["kind"], created["description"]) == ("dicom", STUDY)
    assert created["has_preview"] is True
