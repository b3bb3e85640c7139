"""Attachments for tests of any package: files of every accepted type made on the fly
(Pillow, a hand-written PDF, pydicom; none is committed), multipart bodies written byte by
byte, uploads through the HTTP API, and what an upload leaves behind."""

from __future__ import annotations

import io
import secrets
from array import array
from dataclasses import dataclass
from typing import Any

from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from sqlalchemy import func, select

from telemed import appkeys
from telemed.cases.blobs import TEMP_PREFIX
from telemed.cases.models import Attachment, Case
from tests.support.server import RunningServer, SignedIn

# --- fixture files, made on the fly ---------------------------------------------------


def png_bytes(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 8), color).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def pdf_bytes() -> bytes:
    """A minimal valid one-page PDF, with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


STUDY = "CT ngực có cản quang"


def dicom_dataset(
    *, pixels: bool = True, syntax: UID = ExplicitVRLittleEndian, size: tuple[int, int] = (600, 300)
) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SpecificCharacterSet = "ISO_IR 192"
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.PatientID = "NC-1"
    dataset.Modality = "CT"
    dataset.StudyDescription = STUDY
    if pixels:
        columns, rows = size
        dataset.Rows, dataset.Columns = rows, columns
        dataset.SamplesPerPixel = 1
        dataset.PhotometricInterpretation = "MONOCHROME2"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
        dataset.PixelRepresentation = 0
        if syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            # A left-to-right ramp over the 12-bit range.
            row = array("H", (x * 4095 // (columns - 1) for x in range(columns)))
            dataset.PixelData = row.tobytes() * rows
        else:
            dataset.PixelData = encapsulate([b"\x00" * 64])
            dataset["PixelData"].VR = "OB"
    return dataset


def dicom_bytes(**options: Any) -> bytes:
    out = io.BytesIO()
    dicom_dataset(**options).save_as(out, enforce_file_format=True)
    return out.getvalue()


# --- driving the API --------------------------------------------------------------------


@dataclass
class Field:
    name: str
    value: bytes
    filename: str | None = None
    content_type: str = "application/octet-stream"


def multipart(fields: list[Field]) -> tuple[bytes, str]:
    """A multipart/form-data body written byte by byte, so a test controls every header."""
    boundary = f"telemed-{secrets.token_hex(8)}"
    body = bytearray()
    for field in fields:
        disposition = f'form-data; name="{field.name}"'
        if field.filename is not None:
            quoted = field.filename.replace("\\", "\\\\").replace('"', '\\"')
            disposition += f'; filename="{quoted}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += f"Content-Type: {field.content_type}\r\n\r\n".encode()
        body += field.value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


async def post_form(
    who: SignedIn, case_id: int, fields: list[Field], *, expect: int = 201
) -> dict[str, Any]:
    body, content_type = multipart(fields)
    headers = {**who.bearer, "Content-Type": content_type}
    async with who.http.post(
        f"/api/v1/cases/{case_id}/attachments", data=io.BytesIO(body), headers=headers
    ) as response:
        data: dict[str, Any] = await response.json()
        assert response.status == expect, (response.status, data)
        return data


async def upload(
    who: SignedIn,
    case_id: int,
    content: bytes,
    filename: str = "file.bin",
    *,
    expect: int = 201,
    content_type: str = "application/octet-stream",
) -> dict[str, Any]:
    return await post_form(
        who, case_id, [Field("file", content, filename, content_type)], expect=expect
    )


@dataclass(frozen=True)
class Stored:
    """Everything an upload may leave behind."""

    files: tuple[str, ...]
    rows: int
    last_seq: int

    @property
    def temp_files(self) -> list[str]:
        return [name for name in self.files if name.startswith(TEMP_PREFIX)]


async def stored(server: RunningServer, case_id: int) -> Stored:
    blobs = server.settings.data_dir / "blobs"
    files = tuple(
        sorted(path.relative_to(blobs).as_posix() for path in blobs.rglob("*") if path.is_file())
    )
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = await db.scalar(
            select(func.count()).select_from(Attachment).where(Attachment.case_id == case_id)
        )
        last_seq = await db.scalar(select(Case.last_seq).where(Case.id == case_id))
    assert rows is not None
    assert last_seq is not None
    return Stored(files, rows, last_seq)
