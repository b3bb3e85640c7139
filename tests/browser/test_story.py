"""The whole consultation in real browsers: request with attachments, triage, schedule,
session with the video call, live notes, concurrence, signature, minutes, audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from telemed.clock import ManualClock
from tests.browser.calls import assert_receiving_video, join_call
from tests.browser.pages import Person, shoot, sign_in, sign_with_password
from tests.support.attachments import pdf_bytes, png_bytes
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

NOTE_TIMEOUT = 5_000  # ms a live note may take to show on another page


@pytest.fixture
def clock() -> ManualClock:
    # The pages count waiting time on the browser's clock: the story starts five hours ago,
    # so that the queue shows (and the screenshots keep) a plausible wait.
    return ManualClock(datetime.now(UTC) - timedelta(hours=5))


async def create_case_through_the_form(doctor: Person) -> int:
    page = doctor.page
    await page.get_by_test_id("new-case").click()
    await expect(page).to_have_url(re.compile(r"/cases/new$"))
    await page.get_by_test_id("patient-code").fill("NC-2026-042")
    await page.get_by_test_id("patient-sex").select_option("male")
    await page.get_by_test_id("patient-birth-year").fill("1958")
    await page.get_by_test_id("case-title").fill("Đau ngực cấp, nghi nhồi máu cơ tim")
    await page.get_by_test_id("case-summary").fill(
        "Nam 68 tuổi, đau ngực trái 3 giờ, ECG ST chênh lên DII, DIII, aVF."
    )
    await page.get_by_test_id("question-text").nth(0).fill("Chẩn đoán xác định?")
    await page.get_by_test_id("add-question").click()
    await page.get_by_test_id("question-text").nth(1).fill("Có chuyển tuyến can thiệp không?")
    await page.get_by_test_id("add-question").click()
    await page.get_by_test_id("question-text").nth(2).fill("Câu hỏi thừa")
    await page.get_by_test_id("remove-question").nth(2).click()
    await expect(page.get_by_test_id("question-text")).to_have_count(2)
    await page.get_by_test_id("case-specialty").fill("Tim mạch")
    await page.get_by_test_id("case-urgency").select_option("urgent")
    await page.get_by_test_id("case-council").select_option("HDCM-MIENNAM")
    files: list[FilePayload] = [
        {"name": "ecg.png", "mimeType": "image/png", "buffer": png_bytes()},
        {"name": "xet-nghiem.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()},
    ]
    await page.get_by_test_id("case-files").set_input_files(files)
    await shoot(page, "new-request")
    await page.get_by_test_id("case-submit").click()
    await expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    match = re.search(r"/cases/(\d+)$", page.url)
    assert match is not None
    await expect(page.get_by_test_id("attachment")).to_have_count(2)
    return int(match.group(1))


async def act(page: Page, action: str, status: str) -> None:
    await page.get_by_test_id(f"action-{action}").click()
    await expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", status)


async def post_note(page: Page, text: str) -> None:
    await page.get_by_test_id("note-body").fill(text)
    await page.get_by_test_id("note-submit").click()


async def test_a_consultation_from_request_to_audit(
    server: RunningServer, browser: Browser, clock: ManualClock
) -> None:
    doctor = await sign_in(browser, server, "bs.namcan", screenshot="login")
    case_id = await create_case_through_the_form(doctor)
    room = doctor.page
    await expect(room.get_by_test_id("case-status")).to_have_attribute("data-status", "requested")
    await expect(room.get_by_test_id("attachment").filter(has_text="ecg.png")).to_have_count(1)
    await room.get_by_test_id("view-attachment").click()
    await expect(room.get_by_test_id("viewer-image")).to_be_visible()
    await room.get_by_test_id("viewer-close").click()
    await room.goto("/")
    await expect(room.get_by_test_id("case-row")).to_have_count(1)
    await shoot(room, "doctor-cases")

    clock.advance(3 * 3600)
    chair = await sign_in(browser, server, "gs.chutoa")
    queue = chair.page
    row = queue.get_by_test_id("case-row").filter(has_text="NC-2026-042")
    await expect(row).to_have_count(1)
    await shoot(queue, "council-queue")
    await row.get_by_test_id("case-link").click()
    await expect(queue).to_have_url(re.compile(rf"/cases/{case_id}$"))
    await act(queue, "accept", "accepted")
    tomorrow = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0)
    await queue.get_by_test_id("schedule-at").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    await act(queue, "schedule", "scheduled")
    await expect(queue.get_by_test_id("case-schedule")).not_to_be_empty()

    await room.goto(f"/cases/{case_id}")
    await expect(room.get_by_test_id("case-status")).to_have_attribute("data-status", "scheduled")
    await act(queue, "start-session", "in_session")
    # The doctor's page follows without a reload.
    await expect(room.get_by_test_id("case-status")).to_have_attribute("data-status", "in_session")
    await expect(room.get_by_test_id("present")).to_have_count(2)

    # The call: each page decodes more and more of the other's (fake) camera.
    await join_call(queue)
    await join_call(room)
    await assert_receiving_video(room)
    await assert_receiving_video(queue)
    await expect(queue.get_by_test_id("call-video")).to_have_count(1)

    await post_note(room, "Bệnh nhân đã dùng aspirin 300 mg lúc 7 giờ.")
    await expect(queue.get_by_test_id("note").filter(has_text="aspirin 300 mg")).to_have_count(
        1, timeout=NOTE_TIMEOUT
    )
    await post_note(queue, "Đề nghị làm thêm troponin.")
    await expect(room.get_by_test_id("note").filter(has_text="troponin")).to_have_count(
        1, timeout=NOTE_TIMEOUT
    )

    member = await sign_in(browser, server, "gs.timmach")
    await member.page.goto(f"/cases/{case_id}")
    await expect(member.page.get_by_test_id("note")).to_have_count(2)
    await expect(queue.get_by_test_id("present")).to_have_count(3)

    await queue.get_by_test_id("draft-answer-1").fill("Nhồi máu cơ tim cấp thành dưới.")
    await queue.get_by_test_id("draft-answer-2").fill("Chuyển tuyến can thiệp trong 12 giờ.")
    await queue.get_by_test_id("draft-treatment").fill("Aspirin, clopidogrel, heparin.")
    await queue.get_by_test_id("draft-transfer").check()
    await queue.get_by_test_id("save-draft").click()
    await expect(member.page.get_by_test_id("draft-decision")).to_contain_text(
        "Nhồi máu cơ tim cấp thành dưới."
    )
    await member.page.get_by_test_id("concur").click()
    await expect(queue.locator(".stance-concur")).to_have_count(1)
    await shoot(queue, "case-room")
    clock.advance(3600)
    await queue.get_by_test_id("sign-decision").click()
    await sign_with_password(queue)
    for page in (queue, room, member.page):
        await expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "decided")
        await expect(page.get_by_test_id("signed-decision")).to_have_count(1)
    # Signing ends the session, and with it the call.
    for page in (queue, room):
        await expect(page.get_by_test_id("call-panel")).to_have_attribute("data-state", "out")

    await room.get_by_test_id("minutes-link").click()
    conclusion = room.get_by_test_id("minutes-conclusion")
    await expect(conclusion).to_contain_text("Nhồi máu cơ tim cấp thành dưới.")
    await expect(conclusion).to_contain_text("Chuyển tuyến can thiệp trong 12 giờ.")
    await expect(room.get_by_test_id("minutes-not-decided")).to_have_count(0)
    await shoot(room, "minutes")

    auditor = await sign_in(browser, server, "kiemtra")
    audit = auditor.page
    await audit.get_by_test_id("open-audit").click()
    await audit.get_by_test_id("audit-case").fill(str(case_id))
    await audit.get_by_test_id("audit-search").click()
    # Every page of the case's rows (newest first, 50 a page): opening the case room alone
    # writes several (the board, the timeline, the room, the actions).
    rows, more = audit.get_by_test_id("audit-row"), audit.get_by_test_id("audit-more")
    await expect(rows.first).to_be_visible()
    while await more.is_visible():
        shown = await rows.count()
        await more.click()
        await expect(rows).not_to_have_count(shown)
    for action, who in [
        ("case.create", "bs.namcan"),
        ("attachment.upload", "bs.namcan"),
        ("case.accept", "gs.chutoa"),
        ("case.schedule", "gs.chutoa"),
        ("case.start_session", "gs.chutoa"),
        ("note.create", "bs.namcan"),
        ("note.create", "gs.chutoa"),
        ("room.join", "gs.timmach"),
        ("decision.draft", "gs.chutoa"),
        ("decision.concur", "gs.timmach"),
        ("decision.sign", "gs.chutoa"),
        ("minutes.read", "bs.namcan"),
    ]:
        await expect(
            audit.locator(f'[data-testid="audit-row"][data-action="{action}"]')
            .filter(has_text=who)
            .first
        ).to_be_visible()
    uploads = audit.locator('[data-testid="audit-row"][data-action="attachment.upload"]')
    await expect(uploads).to_have_count(2)
    # Actions read as what they mean, with the code at hand.
    signed = audit.locator('[data-testid="audit-row"][data-action="decision.sign"] td[title]')
    await expect(signed).to_have_text("Ký kết luận")
    await expect(signed).to_have_attribute("title", "decision.sign")
    await audit.get_by_test_id("audit-verify").click()
    await expect(audit.get_by_test_id("verify-result")).to_have_attribute("data-ok", "true")
    await shoot(audit, "audit")

    await audit.goto("/stats")
    await expect(audit.get_by_test_id("stats-total")).to_contain_text("1")
    await expect(audit.get_by_test_id("chart-facility")).to_contain_text("Năm Căn")
    await expect(audit.get_by_test_id("transfer-detail")).to_contain_text("0")
    await shoot(audit, "statistics")

    for person in (doctor, chair, member, auditor):
        person.assert_clean()
