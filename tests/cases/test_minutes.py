"""The consultation minutes: every field of PRODUCT.md section 6, in HTML and PDF."""

from __future__ import annotations

import importlib
import io
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.cases.pdf import DEJAVU_DIR, local_files_only
from tests.support.api import call, step_up
from tests.support.cases import (
    DECIDED_AT,
    DECIDED_CASE,
    DISSENT,
    DRAFT,
    SCRIPT,
    act,
    create_case,
    decide,
    to_scheduled,
    to_session,
)
from tests.support.documents import TextOf, get
from tests.support.guests import INVITE, guest_from, guest_socket, invite
from tests.support.participants import participant
from tests.support.server import RunningServer, SignedIn


def pdf_text(pdf: bytes, html: str, tmp_path: Path) -> str:
    """The PDF's text: pdftotext, else pypdf, else WeasyPrint's layout of the same HTML."""
    if shutil.which("pdftotext"):
        path = tmp_path / "minutes.pdf"
        path.write_bytes(pdf)
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
        )
        text = out.stdout.decode()
    else:
        try:
            pypdf = importlib.import_module("pypdf")
        except ImportError:
            text = weasyprint_text(html)
        else:
            reader = pypdf.PdfReader(io.BytesIO(pdf))
            text = "\n".join(page.extract_text() for page in reader.pages)
    return unicodedata.normalize("NFC", " ".join(text.split()))


def weasyprint_text(html: str) -> str:
    import weasyprint

    static = Path(__file__).resolve().parents[2] / "web" / "static"
    document = weasyprint.HTML(string=html, base_url=static.as_uri() + "/").render()
    words = []
    for page in document.pages:
        for box in page._page_box.descendants():
            if hasattr(box, "text"):
                words.append(box.text)
    return " ".join(words)


@pytest.fixture
async def doctor(server: RunningServer) -> SignedIn:
    return await server.sign_in("bs.namcan")


async def test_minutes_show_every_field_of_a_decided_case_in_vietnamese(
    server: RunningServer, doctor: SignedIn
) -> None:
    case_id, signed = await decide(server, doctor)
    body, content_type = await get(doctor, f"/api/v1/cases/{case_id}/minutes")
    html = body.decode()
    text = TextOf.of(html)
    assert content_type == "text/html"
    assert '<html lang="vi">' in html
    expected = [
        "Biên bản hội chẩn",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        # time and place: each connection point
        "Thời gian và địa điểm",
        "02/01/2026 09:00 (UTC+7)",
        "Bắt đầu hội chẩn lúc",
        "Các điểm cầu",
        "Trung tâm Y tế huyện Năm Căn (Cà Mau)",
        "Cơ sở đề nghị hội chẩn",
        "Bệnh viện Thống Nhất",
        "Trụ sở hội đồng",
        # chair, secretary, members and their specialties, other attendees
        "Chủ tọa GS.TS. Trần Quốc Chủ (Nội khoa)",
        "Thư ký TS.BS. Phạm Thu Kỳ (Nội tổng quát)",
        "GS.TS. Võ Tâm Mạch Thành viên Tim mạch Có",
        "Người tham dự khác BS. Nguyễn Văn Nam — Trung tâm Y tế huyện Năm Căn (Cà Mau)",
        # patient identification
        "Mã người bệnh NC-2026-042",
        "Giới tính Nam",
        "Năm sinh 1958",
        # summary, discussion
        "Tóm tắt bệnh sử và quá trình điều trị",
        "Đã dùng aspirin tại huyện.",
        "Huyết áp 100/60.",
        "Về câu hỏi 1",
        # conclusion per question, treatment direction, transfer, follow-up, dissent
        "Câu hỏi 1: Chẩn đoán xác định? Kết luận: Nhồi máu cơ tim cấp thành dưới.",
        "Câu hỏi 2: Có chuyển tuyến can thiệp mạch vành không? Kết luận: Chuyển tuyến can",
        "Hướng điều trị Aspirin, clopidogrel, heparin; chuyển viện.",
        "Chuyển tuyến Có",
        "Theo dõi, tái khám Tái khám sau 1 tháng.",
        "Đồng thuận GS.TS. Võ Tâm Mạch",
        f"Ý kiến không đồng thuận TS.BS. Phạm Thu Kỳ: {DISSENT}",
        # signatures
        "Người ký GS.TS. Trần Quốc Chủ",
        "Thời điểm ký",
        f"Mã băm SHA-256 của kết luận đã ký {signed['content_sha256']}",
    ]
    for phrase in expected:
        assert phrase in text, phrase
    assert "Chưa có kết luận" not in text
    # gs.thankinh sits on another council: not a member of these minutes.
    assert "Đỗ Thần Kinh" not in text


async def test_minutes_escape_every_dynamic_text(server: RunningServer, doctor: SignedIn) -> None:
    case_id, _ = await decide(server, doctor)
    body, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes")
    html = body.decode()
    assert SCRIPT not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the summary and a note
    assert SCRIPT in TextOf.of(html)
    assert "<style" not in html
    assert "<script" not in html  # CSP forbids inline script; the minutes need none
    assert 'href="/static/css/minutes.css"' in html


async def test_minutes_in_english_with_lang(server: RunningServer, doctor: SignedIn) -> None:
    case_id, signed = await decide(server, doctor)
    body, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes?lang=en")
    html = body.decode()
    text = TextOf.of(html)
    assert '<html lang="en">' in html
    for phrase in [
        "Consultation minutes",
        "SOCIALIST REPUBLIC OF VIETNAM",
        "Time and place",
        "Chair GS.TS. Trần Quốc Chủ (Nội khoa)",
        "Secretary TS.BS. Phạm Thu Kỳ",
        "Patient code NC-2026-042",
        "Sex Male",
        "Question 1: Chẩn đoán xác định? Conclusion: Nhồi máu cơ tim cấp thành dưới.",
        "Treatment direction Aspirin",
        "Transfer to another facility Yes",
        f"Dissenting opinions TS.BS. Phạm Thu Kỳ: {DISSENT}",
        f"SHA-256 of the signed decision {signed['content_sha256']}",
    ]:
        assert phrase in text, phrase
    assert "Biên bản hội chẩn" not in text
    # The lang cookie chooses too, and ?lang= wins over it.
    doctor.http.cookie_jar.update_cookies({"lang": "en"})
    by_cookie, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes")
    assert "Consultation minutes" in by_cookie.decode()
    by_query, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes?lang=vi")
    assert "Biên bản hội chẩn" in by_query.decode()


async def test_minutes_before_a_signed_decision_say_not_yet_decided(
    server: RunningServer, doctor: SignedIn
) -> None:
    chair = await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor, **DECIDED_CASE))["id"])
    await to_session(chair, case_id, DECIDED_AT)
    await call(chair, "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    body, _ = await get(chair, f"/api/v1/cases/{case_id}/minutes")
    text = TextOf.of(body.decode())
    assert "Bản nháp. Chưa có kết luận: chưa có quyết định nào được ký." in text
    assert "Dự thảo kết luận đang được soạn." in text
    assert "Câu hỏi 1: Chẩn đoán xác định? Kết luận: Chưa có kết luận" in text
    assert "Chữ ký Chưa ký" in text
    # A draft's answers are not a conclusion: they do not appear.
    assert "Nhồi máu cơ tim cấp thành dưới." not in text
    english, _ = await get(chair, f"/api/v1/cases/{case_id}/minutes?lang=en")
    assert "Not yet decided: no decision has been signed." in TextOf.of(english.decode())


async def test_minutes_show_the_amendment_and_what_it_amends(
    server: RunningServer, doctor: SignedIn
) -> None:
    case_id, first = await decide(server, doctor)
    chair = await server.sign_in("gs.chutoa")
    base = f"/api/v1/cases/{case_id}"
    amended = {**DRAFT, "treatment_direction": "Chuyển viện ngay, không chờ."}
    await call(chair, "PUT", base + "/decision/draft", amended)
    await step_up(chair)
    second = await call(chair, "POST", base + "/decision/sign", {"version": 1})
    body, _ = await get(doctor, base + "/minutes")
    text = TextOf.of(body.decode())
    assert f"Kết luận này sửa đổi kết luận số {first['id']} đã ký lúc" in text
    assert f"(SHA-256 {first['content_sha256']})" in text
    assert "Hướng điều trị Chuyển viện ngay, không chờ." in text
    assert f"Kết luận số {second['id']} (sửa đổi kết luận số {first['id']})" in text
    assert second["content_sha256"] in text


async def test_minutes_pdf_embeds_vietnamese_text(
    server: RunningServer, doctor: SignedIn, tmp_path: Path
) -> None:
    case_id, _ = await decide(server, doctor)
    pdf, content_type = await get(doctor, f"/api/v1/cases/{case_id}/minutes.pdf")
    assert content_type == "application/pdf"
    assert pdf.startswith(b"%PDF-")
    html, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes")
    text = pdf_text(pdf, html.decode(), tmp_path)
    for phrase in ["Biên bản hội chẩn", "NC-2026-042", "Chủ tọa", "Hướng điều trị", "Thư ký"]:
        assert phrase in text, phrase
    english, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes.pdf?lang=en")
    english_html, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes?lang=en")
    assert "Consultation minutes" in pdf_text(english, english_html.decode(), tmp_path)


async def test_only_participants_read_the_minutes(server: RunningServer, doctor: SignedIn) -> None:
    case_id, _ = await decide(server, doctor)
    other_facility = await server.sign_in("bs.uminh")
    other_council = await server.sign_in("gs.thankinh")
    admin = await server.sign_in("kiemtra")
    for suffix in ("minutes", "minutes.pdf"):
        path = f"/api/v1/cases/{case_id}/{suffix}"
        for outsider in (other_facility, other_council):
            body, _ = await get(outsider, path, expect=404)
            assert b"NC-2026-042" not in body
        body, _ = await get(admin, path, expect=403)
        assert b"NC-2026-042" not in body
        await get(doctor, f"/api/v1/cases/{case_id + 1000}/{suffix}", expect=404)
        async with server.http().get(path) as response:
            assert response.status == 401


async def test_reading_the_minutes_is_audited(server: RunningServer, doctor: SignedIn) -> None:
    case_id, _ = await decide(server, doctor)
    admin = await server.sign_in("kiemtra")
    await get(doctor, f"/api/v1/cases/{case_id}/minutes")
    await get(doctor, f"/api/v1/cases/{case_id}/minutes.pdf")
    await get(admin, f"/api/v1/cases/{case_id}/minutes", expect=403)
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = (
            await db.scalars(
                select(AuditRecord)
                .where(AuditRecord.case_id == case_id, AuditRecord.action.like("minutes.%"))
                .order_by(AuditRecord.seq)
            )
        ).all()
    seen = [(r.action, r.actor_username, r.outcome) for r in rows]
    assert seen == [
        ("minutes.read", "bs.namcan", "success"),
        ("minutes.pdf", "bs.namcan", "success"),
        ("minutes.read", "kiemtra", "denied"),
    ]


def test_the_pdf_renderer_reads_local_stylesheets_and_fonts_only() -> None:
    static = Path(__file__).resolve().parents[2] / "web" / "static"
    fetcher = local_files_only(static, DEJAVU_DIR)
    css = fetcher.fetch((static / "css" / "minutes.css").as_uri())
    assert b"@font-face" in css.read()
    css.close()
    for url in [
        "https://example.org/minutes.css",
        "file:///etc/passwd",
        (static / ".." / ".." / "pyproject.toml").as_uri(),
    ]:
        with pytest.raises(ValueError, match="local stylesheets and fonts only"):
            fetcher.fetch(url)


async def test_minutes_keep_each_signed_version_with_its_own_concurrences_and_dissents(
    server: RunningServer, doctor: SignedIn
) -> None:
    case_id, first = await decide(server, doctor)
    chair = await server.sign_in("gs.chutoa")
    member = await server.sign_in("gs.timmach")
    base = f"/api/v1/cases/{case_id}"
    amended = {**DRAFT, "treatment_direction": "Chụp mạch vành tại chỗ.", "transfer": False}
    await call(chair, "PUT", base + "/decision/draft", amended)
    second_dissent = "Vẫn nên chuyển viện."
    opinion = {"version": 1, "stance": "dissent", "reason": second_dissent}
    await call(member, "POST", base + "/decision/opinions", opinion)
    await step_up(chair)
    second = await call(chair, "POST", base + "/decision/sign", {"version": 1})
    body, _ = await get(doctor, base + "/minutes")
    text = TextOf.of(body.decode())
    # The amendment, as the conclusion, with its own opinions only.
    assert "Hướng điều trị Chụp mạch vành tại chỗ." in text
    assert "Đồng thuận —" in text
    assert f"Ý kiến không đồng thuận GS.TS. Võ Tâm Mạch: {second_dissent}" in text
    # The decision it amends, as signed, with the concurrence and the dissent it had.
    earlier = (
        f"Các phiên bản kết luận đã ký trước đó Kết luận số {first['id']} "
        "Câu hỏi 1 Nhồi máu cơ tim cấp thành dưới. "
        "Câu hỏi 2 Chuyển tuyến can thiệp trong 12 giờ. "
        "Hướng điều trị Aspirin, clopidogrel, heparin; chuyển viện. Chuyển tuyến Có "
        "Theo dõi, tái khám Tái khám sau 1 tháng. "
        "Đồng thuận GS.TS. Võ Tâm Mạch "
        f"Ý kiến không đồng thuận TS.BS. Phạm Thu Kỳ: {DISSENT} "
        "Người ký GS.TS. Trần Quốc Chủ"
    )
    assert earlier in text
    assert f"Mã băm SHA-256 của kết luận đã ký {first['content_sha256']}" in text
    assert f"Mã băm SHA-256 của kết luận đã ký {second['content_sha256']}" in text
    english, _ = await get(doctor, base + "/minutes?lang=en")
    english_text = TextOf.of(english.decode())
    assert f"Earlier signed versions Decision no. {first['id']}" in english_text
    assert f"Dissenting opinions TS.BS. Phạm Thu Kỳ: {DISSENT}" in english_text


async def test_minutes_list_admitted_guest_specialists_among_the_attendees(
    server: RunningServer, doctor: SignedIn
) -> None:
    chair_http = await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor, **DECIDED_CASE))["id"])
    await to_scheduled(chair_http, case_id, DECIDED_AT)
    admitted = await guest_from(server, await invite(chair_http, case_id))
    # Invited but never in the call: not an attendee.
    await invite(chair_http, case_id, name="BS. Không Đến", specialty="Gây mê")
    await act(chair_http, case_id, "start_session")
    chair = await participant(server, "gs.chutoa")
    guest = await guest_socket(server, admitted)
    try:
        assert (await chair.join(case_id))["ok"] is True
        assert (await chair.request("call:join", {"case_id": case_id}))["state"] == "in_call"
        assert (await guest.join(case_id))["ok"] is True
        waiting = await guest.request("call:join", {"case_id": case_id})
        assert waiting["state"] == "lobby"
        admit = {"case_id": case_id, "peer_id": waiting["peer_id"]}
        assert (await chair.request("call:admit", admit))["ok"] is True
    finally:
        await guest.close()
        await chair.close()
    body, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes")
    text = TextOf.of(body.decode())
    assert (
        "Người tham dự khác BS. Nguyễn Văn Nam — Trung tâm Y tế huyện Năm Căn (Cà Mau) "
        f"{INVITE['name']} ({INVITE['specialty']}) — Chuyên gia khách mời"
    ) in text
    assert "Không Đến" not in text
    english, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes?lang=en")
    assert f"{INVITE['name']} ({INVITE['specialty']}) — Guest specialist" in TextOf.of(
        english.decode()
    )
