"""What an uploaded file really is, decided by its content alone.

The client's Content-Type and the file name's extension are never consulted: the first
bytes must carry a known signature, and the file must then survive a real parse (Pillow
for JPEG and PNG, header and end marker for PDF, pydicom for DICOM). DICOM files also
yield their study description and, where the pixel data can be read, a small PNG preview.

Every function here blocks (disk and CPU); async callers run ``sniff`` in a thread.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import av
from PIL import Image, ImageOps
from pydicom import config as pydicom_config
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.filereader import read_dataset, read_preamble
from pydicom.tag import BaseTag
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from telemed.cases.models import AttachmentKind
from telemed.errors import PayloadTooLarge, UnsupportedMediaType

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
DICOM_PREAMBLE = 128
PDF_TAIL = 1024
# Deflated DICOM is inflated (and its input read) in pieces of at most this size.
INFLATE_CHUNK = 1024 * 1024
# Larger images are refused before decoding: a small compressed file can expand to
# gigabytes of pixels. Below Pillow's own bomb threshold, so Pillow never warns first.
MAX_IMAGE_PIXELS = 50_000_000
PREVIEW_SIZE = 512
MAX_DESCRIPTION = 500
ACCEPTED = "Accepted files are JPEG and PNG images, PDF documents and DICOM files."

UNCOMPRESSED = frozenset(
    {ImplicitVRLittleEndian, ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian}
)
# (bits allocated, signed) -> Pillow's raw decoder into 32-bit integer pixels.
RAW_MODES = {
    (8, False): "I;8",
    (8, True): "I;8S",
    (16, False): "I;16",
    (16, True): "I;16S",
    (32, False): "I;32",
    (32, True): "I;32S",
}


@dataclass(frozen=True)
class FileType:
    kind: AttachmentKind
    media_type: str
    # Name suffixes that match the content; the first is added to names that lack one.
    extensions: tuple[str, ...]


PNG = FileType(AttachmentKind.IMAGE, "image/png", (".png",))
JPEG = FileType(AttachmentKind.IMAGE, "image/jpeg", (".jpg", ".jpeg"))
PDF = FileType(AttachmentKind.PDF, "application/pdf", (".pdf",))
DICOM = FileType(AttachmentKind.DICOM, "application/dicom", (".dcm", ".dicom"))
# Session recordings: accepted only from the server's own recorder, never from an upload.
MATROSKA = FileType(AttachmentKind.RECORDING, "video/x-matroska", (".mkv",))
WEBM = FileType(AttachmentKind.RECORDING, "video/webm", (".webm",))
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class Sniffed:
    type: FileType
    description: str = ""
    preview_png: bytes | None = None


def sniff(path: Path, *, max_inflated: int, recording: bool = False) -> Sniffed:
    """The type of the file at ``path``, or UnsupportedMediaType saying why not.

    ``max_inflated`` bounds what a compressed container may expand to (PayloadTooLarge
    beyond it). ``recording`` (the server's recorder only) accepts Matroska and WebM;
    uploads never do.
    """
    with path.open("rb") as file:
        head = file.read(DICOM_PREAMBLE + 4)
    if not head:
        raise UnsupportedMediaType("The file is empty.")
    if recording:
        return _read_recording(path, head)
    if head.startswith(PNG_SIGNATURE):
        _check_image(path, "PNG")
        return Sniffed(PNG)
    if head.startswith(JPEG_SIGNATURE):
        _check_image(path, "JPEG")
        return Sniffed(JPEG)
    if PDF_HEADER.match(head):
        _check_pdf(path)
        return Sniffed(PDF)
    if head[DICOM_PREAMBLE : DICOM_PREAMBLE + 4] == b"DICM":
        return _read_dicom(path, max_inflated)
    raise UnsupportedMediaType(f"The file's content is not of an accepted type. {ACCEPTED}")


def _read_recording(path: Path, head: bytes) -> Sniffed:
    if not head.startswith(EBML_MAGIC):
        raise UnsupportedMediaType("A recording must be a Matroska or WebM file.")
    # The EBML header names the document type within its first bytes.
    file_type = WEBM if b"webm" in head[:64] else MATROSKA
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio and not container.streams.video:
                raise UnsupportedMediaType("The recording holds no audio or video.")
    except av.FFmpegError as error:
        raise UnsupportedMediaType("The recording cannot be read.") from error
    return Sniffed(file_type)


def clean_text(value: str, limit: int, *, keep_newlines: bool = False) -> str:
    """Without control and format characters (NUL, bidi overrides), stripped, at most limit."""
    kept = "\n\t" if keep_newlines else ""
    text = "".join(
        char
        for char in unicodedata.normalize("NFC", value)
        if char in kept or unicodedata.category(char) not in ("Cc", "Cf")
    )
    return text.strip()[:limit]


def _check_image(path: Path, pillow_format: str) -> None:
    damaged = UnsupportedMediaType(
        f"The file starts like a {pillow_format} image but is damaged or incomplete."
    )
    try:
        # ``formats`` keeps Pillow from trying every other decoder it knows.
        with Image.open(path, formats=[pillow_format]) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UnsupportedMediaType(
                    f"The image is larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                )
            image.verify()
        # verify() checks the structure (for PNG every chunk's CRC); decoding proves the
        # pixel data too. JPEG decodes at 1/8 scale: it still reads every byte.
        with Image.open(path, formats=[pillow_format]) as image:
            if pillow_format == "JPEG":
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except UnsupportedMediaType:
        raise
    except Exception as error:  # a parser fed hostile bytes can fail in any way
        raise damaged from error


def _check_pdf(path: Path) -> None:
    with path.open("rb") as file:
        size = file.seek(0, io.SEEK_END)
        file.seek(max(0, size - PDF_TAIL))
        tail = file.read()
    if b"%%EOF" not in tail:
        raise UnsupportedMediaType("The file starts like a PDF but has no end (%%EOF): damaged?")


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def _read_dicom(path: Path, max_inflated: int) -> Sniffed:
    # The default validation warns (and logs) with the offending value quoted, and values
    # here are patient data: never let them reach a log.
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    try:
        dataset = _parse_dicom(path, max_inflated)
        if "TransferSyntaxUID" not in dataset.file_meta or len(dataset) == 0:
            raise ValueError("no transfer syntax or no data elements")
        for element in dataset.iterall():
            _ = element.value  # converts every raw element: a real parse, not a peek
    except PayloadTooLarge:
        raise
    except Exception as error:  # a parser fed hostile bytes can fail in any way
        raise UnsupportedMediaType(
            "The file starts like DICOM but could not be read: damaged or incomplete."
        ) from error
    description = clean_text(str(dataset.get("StudyDescription", "") or ""), MAX_DESCRIPTION)
    return Sniffed(DICOM, description, dicom_preview(dataset))


def _parse_dicom(path: Path, max_inflated: int) -> Dataset:
    """The whole data set. pydicom never sees a deflated one: that is inflated here, first
    only counted (holding one piece at a time), then kept once it proved small enough."""
    with path.open("rb") as file:
        read_preamble(file, False)
        meta = FileMetaDataset(read_dataset(file, False, True, stop_when=_past_file_meta))
        if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
            return dcmread(path)
        start = file.tell()
        for _ in _inflate(file, max_inflated):
            pass
        file.seek(start)
        plain = io.BytesIO()
        for piece in _inflate(file, max_inflated):
            plain.write(piece)
    plain.seek(0)
    dataset = read_dataset(plain, is_implicit_VR=False, is_little_endian=True)
    dataset.file_meta = meta
    return dataset


def _past_file_meta(tag: BaseTag, _vr: str | None, _length: int) -> bool:
    return tag.group != 0x0002


def _inflate(file: BinaryIO, limit: int) -> Iterator[bytes]:
    """The raw deflate stream from the file's position, in pieces of at most INFLATE_CHUNK
    bytes; PayloadTooLarge as soon as the total passes ``limit``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    while not inflater.eof:
        data = inflater.unconsumed_tail or file.read(INFLATE_CHUNK)
        piece = inflater.decompress(data, INFLATE_CHUNK)
        if not data and not piece:
            raise ValueError("the deflated data set ends early")
        total += len(piece)
        if total > limit:
            raise PayloadTooLarge(
                f"The DICOM file is deflated and expands to more than {megabytes(limit)}, "
                "the upload limit. Send it uncompressed or with image compression (JPEG)."
            )
        yield piece


def dicom_preview(dataset: Any) -> bytes | None:
    """A PNG of the first frame, at most 512 px, windowed to 8 bits; None if none can be had.

    Uncompressed pixel data is decoded here with Pillow (no numpy needed); JPEG baseline
    frames are JPEG files Pillow opens. Other compressions get no preview.
    """
    if "PixelData" not in dataset:
        return None
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    try:
        if syntax in UNCOMPRESSED:
            image = _raw_frame(dataset)
        elif syntax == JPEGBaseline8Bit:
            image = _jpeg_frame(dataset)
        else:
            return None
        if image is None:
            return None
        image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()
    except Exception:  # the preview is a convenience: the file itself is already accepted
        return None


def _raw_frame(dataset: Any) -> Image.Image | None:
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    bits = int(dataset.BitsAllocated)
    signed = int(dataset.get("PixelRepresentation", 0) or 0) == 1
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).strip()
    if rows <= 0 or columns <= 0 or rows * columns > MAX_IMAGE_PIXELS or bits % 8:
        return None
    pixels = rows * columns
    frame_bytes = pixels * samples * bits // 8
    data = bytes(dataset.PixelData)
    if len(data) < frame_bytes:
        return None
    frame = data[:frame_bytes]
    size = (columns, rows)
    if photometric == "RGB" and samples == 3 and bits == 8:
        if int(dataset.get("PlanarConfiguration", 0) or 0) == 0:
            return Image.frombytes("RGB", size, frame)
        planes = [
            Image.frombytes("L", size, frame[i * pixels : (i + 1) * pixels]) for i in range(3)
        ]
        return Image.merge("RGB", planes)
    raw_mode = RAW_MODES.get((bits, signed))
    if photometric not in ("MONOCHROME1", "MONOCHROME2") or samples != 1 or raw_mode is None:
        return None
    image = Image.frombytes("I", size, frame, "raw", raw_mode)
    gray = _window(dataset, image)
    return ImageOps.invert(gray) if photometric == "MONOCHROME1" else gray


def _window(dataset: Any, image: Image.Image) -> Image.Image:
    """Stored values -> modality values (rescale) -> the VOI window -> 0..255."""
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    center = _first_number(dataset.get("WindowCenter"))
    width = _first_number(dataset.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        extrema: tuple[float, float] = image.getextrema()  # type: ignore[assignment]
        low, high = sorted(value * slope + intercept for value in extrema)
        center, width = (low + high) / 2, max(high - low, 1.0)
    scale = slope * 255 / width
    offset = (intercept - center + width / 2) * 255 / width
    # Converting the 32-bit integer image to "L" clips to 0..255.
    return image.point(lambda value: value * scale + offset).convert("L")


def _first_number(value: object) -> float | None:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _jpeg_frame(dataset: Any) -> Image.Image:
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    first = next(generate_frames(dataset.PixelData, number_of_frames=frames))
    image = Image.open(io.BytesIO(first), formats=["JPEG"])
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise ValueError("frame too large for a preview")
    # Decoded at the smallest scale (1/2 to 1/8) that still covers the preview's size.
    image.draft(image.mode, (PREVIEW_SIZE, PREVIEW_SIZE))
    image.load()
    return image if image.mode in ("L", "RGB") else image.convert("RGB")
