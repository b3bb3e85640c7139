"""Attachments end to end: upload by content, store by hash, serve to participants only.

Every fixture file is made here (Pillow, a hand-written PDF, pydicom); none is committed.
"""

from __future__ import annotations

import io
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000Lossless,
)
from sqlalchemy import select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.cases.attachments import safe_filename
from telemed.cases.sniff import PNG, dicom_preview
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call
from tests.support.attachments import (
    STUDY,
    Field,
    dicom_bytes,
    dicom_dataset,
    jpeg_bytes,
    pdf_bytes,
    png_bytes,
    post_form,
    stored,
    upload,
)
from tests.support.cases import act, close_case, create_case
from tests.support.server import RunningServer, SignedIn


@dataclass
class Fetched:
    status: int
    body: bytes
    headers: dict[str, str]


async def fetch(who: SignedIn, path: str) -> Fetched:
    async with who.http.get(path, headers=who.bearer) as response:
        return Fetched(response.status, await response.read(), dict(response.headers))


def blob_name(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:]}"


@pytest.fixture
async def people(server: RunningServer) -> dict[str, SignedIn]:
    return await server.sign_in_all(
        ["bs.namcan", "bs.uminh", "gs.chutoa", "gs.timmach", "gs.thankinh", "kiemtra"]
    )


@pytest.fixture
async def case_id(people: dict[str, SignedIn]) -> int:
    case: dict[str, Any] = await create_case(people["bs.namcan"])
    return int(case["id"])


# --- accepted files ---------------------------------------------------------------------

ACCEPTED: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "png": (png_bytes, "image/png", "ảnh vết thương.png"),
    "jpeg": (jpeg_bytes, "image/jpeg", "ECG 12 chuyển đạo.JPG"),
    "pdf": (pdf_bytes, "application/pdf", "Kết quả xét nghiệm.pdf"),
    "dicom": (dicom_bytes, "application/dicom", "CT-001.dcm"),
}


@pytest.mark.parametrize("kind", list(ACCEPTED))
async def test_each_accepted_type_round_trips_byte_exact(
    server: RunningServer, people: dict[str, SignedIn], case_id: int, kind: str
) -> None:
    make, media_type, filename = ACCEPTED[kind]
    content = make()
    # The client's Content-Type is a lie on purpose: only the content counts.
    created = await upload(
        people["bs.namcan"], case_id, content, filename, content_type="text/html"
    )
    assert (created["media_type"], created["filename"], created["size"]) == (
        media_type,
        filename,
        len(content),
    )
    assert created["url"] == f"/api/v1/cases/{case_id}/attachments/{created['id']}"
    got = await fetch(people["gs.timmach"], created["url"])
    assert got.status == 200
    assert got.body == content
    assert got.headers["Content-Type"] == media_type
    quoted = "".join(
        f"%{byte:02X}" if byte > 0x7E or byte in b' "%;\\' else chr(byte)
        for byte in filename.encode()
    )
    assert got.headers["Content-Disposition"].startswith("attachment; filename=")
    assert got.headers["Content-Disposition"].endswith(f"; filename*=UTF-8''{quoted}")
    assert got.headers["Content-Security-Policy"] == "sandbox"
    assert got.headers["X-Content-Type-Options"] == "nosniff"


async def test_council_members_upload_and_the_requester_reads(
    people: dict[str, SignedIn], case_id: int
) -> None:
    created = await upload(people["gs.timmach"], case_id, pdf_bytes(), "ý kiến.pdf")
    assert created["uploaded_by"]["username"] == "gs.timmach"
    got = await fetch(people["bs.namcan"], created["url"])
    assert (got.status, got.body) == (200, pdf_bytes())


async def test_the_board_lists_the_attachment_and_the_log_has_the_event(
    people: dict[str, SignedIn], case_id: int
) -> None:
    doctor = people["bs.namcan"]
    description = Field("description", "Phim chụp sáng nay".encode())
    file = Field("file", png_bytes(), "phim.png")
    created = await post_form(doctor, case_id, [description, file])
    assert created["description"] == "Phim chụp sáng nay"
    as_board = {k: v for k, v in created.items() if k not in ("url", "preview_url")}
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert board["attachments"] == [as_board]
    assert board["last_seq"] == created["seq"] == 2
    log = await call(doctor, "GET", f"/api/v1/cases/{case_id}/events")
    last = log["events"][-1]
    assert (last["type"], last["seq"], last["actor"]["username"]) == (
        "attachment.added",
        2,
        "bs.namcan",
    )
    assert last["data"] == {"attachment": as_board}


async def test_the_event_is_published_after_commit(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    published: list[dict[str, Any]] = []

    class Listener:
        async def committed(self, events: list[dict[str, Any]]) -> None:
            published.extend(events)

    running = RunningServer(make_settings(), clock)
    await running.start()
    running.app[appkeys.CASE_LOG].subscribe(Listener())
    try:
        doctor = await running.sign_in("bs.namcan")
        case = await create_case(doctor)
        created = await upload(doctor, case["id"], png_bytes(), "a.png")
    finally:
        await running.close()
    added = [event for event in published if event["type"] == "attachment.added"]
    assert [event["data"]["attachment"]["id"] for event in added] == [created["id"]]


async def test_identical_content_is_stored_once(
    server: RunningServer, people: dict[str, SignedIn], case_id: int
) -> None:
    first = await upload(people["bs.namcan"], case_id, pdf_bytes(), "a.pdf")
    second = await upload(people["gs.chutoa"], case_id, pdf_bytes(), "b.pdf")
    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    after = await stored(server, case_id)
    assert after.files == (blob_name(first["sha256"]),)
    assert after.rows == 2


async def test_dicom_shows_its_study_description_and_a_preview(
    server: RunningServer, people: dict[str, SignedIn], case_id: int
) -> None:
    created = await upload(people["bs.namcan"], case_id, dicom_bytes(), "IM0001")
    assert created["kind"] == "dicom"
    assert created["filename"] == "IM0001.dcm"  # the name now says what the content is
    assert created["description"] == STUDY
    assert created["has_preview"] is True
    assert created["preview_url"] == created["url"] + "/preview"
    got = await fetch(people["gs.chutoa"], created["preview_url"])
    assert got.status == 200
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Security-Policy"] == "sandbox"
    with Image.open(io.BytesIO(got.body)) as preview:
        assert preview.format == "PNG"
        assert (preview.size, preview.mode) == ((512, 256), "L")
        # No window in the file: the ramp's full range maps onto 0..255, dark to bright.
        assert preview.getextrema() == (0, 255)
        assert preview.getpixel((0, 128)) == 0
        assert preview.getpixel((511, 128)) == 255
    files = (await stored(server, case_id)).files
    assert len(files) == 2  # the file and its preview


@pytest.mark.parametrize(
    "options",
    [{"pixels": False}, {"syntax": JPEG2000Lossless}],
    ids=["no-pixel-data", "unsupported-transfer-syntax"],
)
async def test_dicom_without_a_readable_image_uploads_without_preview(
    people: dict[str, SignedIn], case_id: int, options: dict[str, Any]
) -> None:
    content = dicom_bytes(**options)
    created = await upload(people["bs.namcan"], case_id, content, "x.dcm")
    assert (created["kind"], created["description"]) == ("dicom", STUDY)
    assert (created["has_preview"], created["preview_url"]) == (False, None)
    assert (await fetch(people["bs.namcan"], created["url"] + "/preview")).status == 404
    assert (await fetch(people["bs.namcan"], created["url"])).body == content


# --- refused uploads leave nothing behind ----------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><html><script>fetch('/api/v1/me')</script></html>"
PASSWD = b"root:x:0:0:root:/root:/bin/bash\n"


def _bad_dicom() -> bytes:
    return b"\x00" * 128 + b"DICM" + b"\xff" * 64


REFUSED: dict[str, tuple[list[Field], int, str]] = {
    "wrong-magic": ([Field("file", b"GIF89a" + b"\x00" * 64, "x.png")], 415, "unsupported"),
    "path-trick": ([Field("file", PASSWD, "../../etc/passwd")], 415, "unsupported"),
    "svg-as-png": ([Field("file", SVG, "cat.png", "image/png")], 415, "unsupported"),
    "truncated-png": ([Field("file", png_bytes()[:40], "a.png")], 415, "unsupported"),
    "truncated-jpeg": ([Field("file", jpeg_bytes()[:300], "a.jpg")], 415, "unsupported"),
    "html-as-pdf": ([Field("file", HTML, "report.pdf", "application/pdf")], 415, "unsupported"),
    "pdf-without-end": ([Field("file", pdf_bytes()[:-7], "r.pdf")], 415, "unsupported"),
    "dicom-garbage": ([Field("file", _bad_dicom(), "a.dcm")], 415, "unsupported"),
    "empty": ([Field("file", b"", "a.png")], 415, "unsupported"),
    "nul-in-filename": ([Field("file", png_bytes(), "a\x00.png")], 422, "validation_error"),
    "control-in-filename": ([Field("file", png_bytes(), "a\x01.png")], 422, "validation_error"),
    "no-file-field": ([Field("description", b"x")], 422, "validation_error"),
    "two-files": (
        [Field("file", png_bytes(), "a.png"), Field("file", png_bytes((1, 2, 3)), "b.png")],
        422,
        "validation_error",
    ),
    "description-too-long": (
        [Field("file", png_bytes(), "a.png"), Field("description", b"x" * 501)],
        422,
        "validation_error",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
async def test_refused_uploads_leave_nothing_behind(
    server: RunningServer, people: dict[str, SignedIn], case_id: int, name: str
) -> None:
    fields, status, code = REFUSED[name]
    before = await stored(server, case_id)
    body = await post_form(people["bs.namcan"], case_id, fields, expect=status)
    assert body["error"]["code"].startswith(code)
    assert body["error"]["message"]
    after = await stored(server, case_id)
    assert after == before
    assert after.files == ()
    assert not (server.settings.data_dir.parent / "etc").exists()


async def test_a_body_that_is_not_multipart_is_refused(
    people: dict[str, SignedIn], case_id: int
) -> None:
    body = await call(
        people["bs.namcan"],
        "POST",
        f"/api/v1/cases/{case_id}/attachments",
        {"file": "x"},
        expect=415,
    )
    assert body["error"]["code"] == "unsupported_media_type"


async def test_uploads_over_the_limit_are_refused_without_reading_on(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    pdf = pdf_bytes()
    running = RunningServer(make_settings(max_upload_bytes=len(pdf)), clock)
    await running.start()
    try:
        doctor = await running.sign_in("bs.namcan")
        case_id = (await create_case(doctor))["id"]
        exactly = await upload(doctor, case_id, pdf, "at-the-limit.pdf")
        before = await stored(running, case_id)
        for content in (pdf + b"\n", pdf + b"\n" * (2 * 1024 * 1024)):
            body = await upload(doctor, case_id, content, "big.pdf", expect=413)
            assert body["error"]["code"] == "payload_too_large"
            assert str(len(pdf)) in body["error"]["message"]
            assert await stored(running, case_id) == before
    finally:
        await running.close()
    assert before.files == (blob_name(exactly["sha256"]),)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\bs\\scan.png", "scan.png"),
        ("b\u202egnp.exe.png", "bgnp.exe.png"),
        ("report.html", "report.html.png"),
        ("..", "attachment.png"),
        ("a" * 300 + ".png", "a" * 251 + ".png"),
    ],
)
async def test_filenames_are_kept_as_a_clean_basename(
    server: RunningServer, people: dict[str, SignedIn], case_id: int, sent: str, kept: str
) -> None:
    created = await upload(people["bs.namcan"], case_id, png_bytes(), sent)
    assert created["filename"] == kept
    assert (await stored(server, case_id)).files == (blob_name(created["sha256"]),)


def test_control_characters_never_reach_a_stored_name() -> None:
    # aiohttp refuses them inside a multipart header before they reach the service (see
    # the refused uploads); the rule holds for names from any transport all the same.
    assert safe_filename("scan\x00.exe\x01\u200f.png", PNG) == "scan.exe.png"


# --- who may upload and read ------------------------------------------------------------


@pytest.mark.parametrize("outsider", ["bs.uminh", "gs.thankinh"])
async def test_outsiders_get_404_exactly_like_a_missing_case(
    server: RunningServer, people: dict[str, SignedIn], case_id: int, outsider: str
) -> None:
    created = await upload(people["bs.namcan"], case_id, png_bytes(), "a.png")
    before = await stored(server, case_id)
    who = people[outsider]
    refused = await upload(who, case_id, png_bytes((9, 9, 9)), "b.png", expect=404)
    missing = await upload(who, case_id + 1000, png_bytes((9, 9, 9)), "b.png", expect=404)
    assert refused == missing
    assert await stored(server, case_id) == before
    for path in (created["url"], created["url"] + "/preview"):
        got = await fetch(who, path)
        gone = await fetch(who, path.replace(f"/cases/{case_id}/", f"/cases/{case_id + 1000}/"))
        assert (got.status, got.body) == (404, gone.body)


async def test_an_admin_who_is_not_a_participant_gets_403(
    server: RunningServer, people: dict[str, SignedIn], case_id: int
) -> None:
    created = await upload(people["bs.namcan"], case_id, png_bytes(), "a.png")
    before = await stored(server, case_id)
    admin = people["kiemtra"]
    assert (await fetch(admin, created["url"])).status == 403
    await upload(admin, case_id, png_bytes((5, 5, 5)), "b.png", expect=403)
    assert await stored(server, case_id) == before


async def test_an_unknown_attachment_is_404(people: dict[str, SignedIn], case_id: int) -> None:
    got = await fetch(people["bs.namcan"], f"/api/v1/cases/{case_id}/attachments/999999")
    assert got.status == 404


@pytest.mark.parametrize("ending", ["cancel", "decline", "close"])
async def test_closed_cases_take_no_uploads(
    server: RunningServer, people: dict[str, SignedIn], case_id: int, ending: str
) -> None:
    doctor, chair = people["bs.namcan"], people["gs.chutoa"]
    if ending == "cancel":
        await act(doctor, case_id, "cancel")
    elif ending == "decline":
        await act(chair, case_id, "decline", reason="r")
    else:
        await close_case(doctor, chair, case_id)
    before = await stored(server, case_id)
    body = await upload(doctor, case_id, png_bytes(), "late.png", expect=409)
    assert body["error"]["code"] == "conflict"
    assert await stored(server, case_id) == before
    assert before.files == ()


async def test_uploads_and_reads_are_in_the_audit_trail(
    server: RunningServer, people: dict[str, SignedIn], case_id: int
) -> None:
    doctor = people["bs.namcan"]
    created = await upload(doctor, case_id, dicom_bytes(), "ct.dcm")
    await fetch(people["gs.timmach"], created["url"])
    await fetch(doctor, created["preview_url"])
    await upload(people["bs.uminh"], case_id, png_bytes(), "x.png", expect=404)
    await upload(doctor, case_id, HTML, "x.pdf", expect=415)
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = (
            await db.scalars(
                select(AuditRecord)
                .where(AuditRecord.action.like("attachment.%"))
                .order_by(AuditRecord.seq)
            )
        ).all()
    assert [(r.action, r.actor_username, r.case_id, r.object_id, r.outcome) for r in rows] == [
        ("attachment.upload", "bs.namcan", case_id, str(created["id"]), "success"),
        ("attachment.download", "gs.timmach", case_id, str(created["id"]), "success"),
        ("attachment.preview", "bs.namcan", case_id, str(created["id"]), "success"),
        ("attachment.upload", "bs.uminh", case_id, None, "denied"),
        ("attachment.upload", "bs.namcan", case_id, None, "error"),
    ]


# --- previews of other DICOM pixel layouts (no server needed) ---------------------------


def _preview(dataset: Dataset) -> Image.Image:
    png = dicom_preview(dataset)
    assert png is not None
    return Image.open(io.BytesIO(png))


def test_monochrome1_previews_are_inverted_and_windows_are_applied() -> None:
    dataset = dicom_dataset(size=(64, 8))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.WindowCenter, dataset.WindowWidth = 1024, 2048
    with _preview(dataset) as image:
        assert image.getpixel((0, 0)) == 255  # lowest value, inverted: white
        assert image.getpixel((63, 0)) == 0  # above the window, inverted: black
        assert image.getpixel((32, 0)) == 0  # 2080 is past the window's top (2048)


def test_rgb_and_signed_pixel_data_preview() -> None:
    rgb = dicom_dataset(size=(4, 2))
    rgb.PhotometricInterpretation, rgb.SamplesPerPixel, rgb.BitsAllocated = "RGB", 3, 8
    rgb.BitsStored, rgb.HighBit, rgb.PlanarConfiguration = 8, 7, 0
    rgb.PixelData = bytes([255, 0, 0]) * 8
    with _preview(rgb) as image:
        assert (image.mode, image.getpixel((1, 1))) == ("RGB", (255, 0, 0))
    signed = dicom_dataset(size=(2, 1))
    signed.PixelRepresentation = 1
    signed.PixelData = array("h", [-1000, 1000]).tobytes()
    with _preview(signed) as image:
        assert (image.getpixel((0, 0)), image.getpixel((1, 0))) == (0, 255)
