"""The parts of the workflow the main story does not walk, in real browsers: a request
for more information and its answer, a declined request, a dissent, an amendment of the
signed decision, the follow-up that closes the case, the minutes as PDF, and the audit
page's filters, pages and exports."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.calls import in_room
from tests.browser.pages import Person, confirm, sign_in, sign_with_password
from tests.support.api import call
from tests.support.cases import DRAFT, create_case, to_session
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


async def act(page: Page, action: str, status: str) -> None:
    await page.get_by_test_id(f"action-{action}").click()
    if action in ("decline", "cancel"):  # asked first: it cannot be taken back
        await confirm(page)
    await expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", status)


async def test_information_requested_and_given_and_a_request_declined(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    asked = int((await create_case(doctor_api))["id"])
    refused = int((await create_case(doctor_api, title="Ho kéo dài"))["id"])
    chair = await in_room(browser, server, "gs.chutoa", asked)
    doctor = await in_room(browser, server, "bs.namcan", asked)

    await chair.page.get_by_test_id("info-message").fill("Xin gửi thêm kết quả troponin.")
    await act(chair.page, "request-info", "info_requested")
    await expect(doctor.page.get_by_test_id("case-status")).to_have_attribute(
        "data-status", "info_requested"
    )
    await expect(doctor.page.get_by_test_id("timeline")).to_contain_text("troponin")
    await doctor.page.get_by_test_id("provide-message").fill("Troponin I 2,3 ng/mL lúc 9 giờ.")
    await act(doctor.page, "provide-info", "requested")
    await expect(chair.page.get_by_test_id("timeline")).to_contain_text("2,3 ng/mL")
    await act(chair.page, "accept", "accepted")

    await chair.page.goto(f"/cases/{refused}")
    await chair.page.get_by_test_id("decline-reason").fill("Không thuộc chuyên khoa của hội đồng.")
    # Going back from the question changes nothing.
    await chair.page.get_by_test_id("action-decline").click()
    await expect(chair.page.get_by_test_id("confirm-text")).to_contain_text("Từ chối yêu cầu số")
    await chair.page.get_by_test_id("confirm-no").click()
    await expect(chair.page.get_by_test_id("case-status")).to_have_attribute(
        "data-status", "requested"
    )
    await act(chair.page, "decline", "declined")
    await doctor.page.goto(f"/cases/{refused}")
    await expect(doctor.page.get_by_test_id("case-status")).to_have_attribute(
        "data-status", "declined"
    )
    await expect(doctor.page.get_by_test_id("timeline")).to_contain_text("Không thuộc chuyên khoa")
    for person in (chair, doctor):
        person.assert_clean()


async def test_dissent_signature_amendment_follow_up_and_the_minutes_as_pdf(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api, chair_api = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor_api))["id"])
    await to_session(chair_api, case_id)
    await call(chair_api, "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    member = await in_room(browser, server, "gs.timmach", case_id)

    await member.page.get_by_test_id("dissent-reason").fill("Nên chụp mạch vành trước.")
    await member.page.get_by_test_id("dissent").click()
    await expect(chair.page.get_by_test_id("opinions")).to_contain_text("Nên chụp mạch vành")
    await chair.page.get_by_test_id("sign-decision").click()
    # A wrong password signs nothing and is said in the dialog, which stays open.
    await sign_with_password(chair.page, text="Kết luận đã ký không thể sửa", password="sai")
    await expect(chair.page.get_by_test_id("sign-error")).to_contain_text("không đúng")
    await sign_with_password(chair.page)
    await expect(chair.page.get_by_test_id("sign-dialog")).to_be_hidden()
    await expect(chair.page.get_by_test_id("signed-decision")).to_have_count(1)

    # An amendment is a new signed decision that points to the one it amends.
    await chair.page.get_by_test_id("amend").click()
    await chair.page.get_by_test_id("draft-treatment").fill("Aspirin, clopidogrel; chụp mạch.")
    await chair.page.get_by_test_id("save-draft").click()
    await expect(chair.page.get_by_test_id("draft-message")).to_contain_text("Đã lưu dự thảo")
    await chair.page.get_by_test_id("sign-decision").click()
    await sign_with_password(chair.page)
    await expect(chair.page.get_by_test_id("signed-decision")).to_have_count(2)
    await expect(member.page.get_by_test_id("signed-decision")).to_have_count(2)
    await expect(member.page.get_by_test_id("signed-decision").last).to_contain_text("chụp mạch")

    doctor = await in_room(browser, server, "bs.namcan", case_id)
    await doctor.page.get_by_test_id("close-outcome").fill("Đã chuyển tuyến, can thiệp thành công.")
    await act(doctor.page, "close", "closed")
    await expect(chair.page.get_by_test_id("case-status")).to_have_attribute(
        "data-status", "closed"
    )

    link = await doctor.page.get_by_test_id("minutes-pdf-link").get_attribute("href")
    assert link is not None
    pdf = await doctor.page.request.get(link)
    assert pdf.status == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert (await pdf.body()).startswith(b"%PDF-")
    chair.assert_clean(refused=re.compile(r"^403 .*/session/step-up$"))
    for person in (member, doctor):
        person.assert_clean()


async def test_the_audit_page_filters_pages_and_exports(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    for n in range(30):  # two rows each (the case and its read): more than one page of 50
        case_id = int((await create_case(doctor_api, patient_code=f"NC-{n:03d}"))["id"])
        await call(doctor_api, "GET", f"/api/v1/cases/{case_id}")
    await call(await server.sign_in("bs.uminh"), "GET", f"/api/v1/cases/{case_id}", expect=404)
    auditor: Person = await sign_in(browser, server, "kiemtra")
    page = auditor.page
    await page.goto("/audit")
    rows = page.get_by_test_id("audit-row")
    await expect(rows).to_have_count(50)
    await page.get_by_test_id("audit-more").click()
    await expect(rows).not_to_have_count(50)
    assert await rows.count() > 50

    await page.get_by_test_id("audit-actor").fill("bs.uminh")
    await page.get_by_test_id("audit-outcome").select_option("denied")
    await page.get_by_test_id("audit-search").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-action", "case.read")
    await expect(page.get_by_test_id("audit-more")).to_be_hidden()

    # The exports carry the same filters.
    csv_link = await page.get_by_test_id("export-csv").get_attribute("href")
    ndjson_link = await page.get_by_test_id("export-ndjson").get_attribute("href")
    assert csv_link is not None
    assert ndjson_link is not None
    exported = await page.request.get(csv_link)
    table = list(csv.DictReader(io.StringIO(await exported.text())))
    assert [(r["actor_username"], r["action"], r["outcome"]) for r in table] == [
        ("bs.uminh", "case.read", "denied")
    ]
    events = (await (await page.request.get(ndjson_link)).text()).splitlines()
    assert len(events) == 1
    assert json.loads(events[0])["resourceType"] == "AuditEvent"

    await page.get_by_test_id("audit-reset").click()
    await expect(rows).to_have_count(50)
    auditor.assert_clean()


async def test_the_newest_note_stays_in_view_and_an_unanswered_question_is_named(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api, chair_api = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor_api))["id"])
    await to_session(chair_api, case_id)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    timeline = chair.page.get_by_test_id("timeline")
    notes = f"/api/v1/cases/{case_id}/notes"
    for n in range(1, 21):
        await call(doctor_api, "POST", notes, {"body": f"Ý kiến {n}"}, 201)
    await expect(timeline.get_by_test_id("note")).to_have_count(20)
    at_end = "list => list.scrollHeight - list.scrollTop - list.clientHeight < 2"
    assert await timeline.evaluate("list => list.scrollHeight > list.clientHeight")
    assert await timeline.evaluate(at_end)

    one_answer = {**DRAFT, "answers": DRAFT["answers"][:1]}
    await call(chair_api, "PUT", f"/api/v1/cases/{case_id}/decision/draft", one_answer)
    await chair.page.get_by_test_id("sign-decision").click()
    await sign_with_password(chair.page)
    await expect(chair.page.get_by_test_id("decision-error")).to_contain_text(
        "Câu hỏi 2 chưa có câu trả lời"
    )
    await expect(chair.page.get_by_test_id("signed-decision")).to_have_count(0)
    chair.assert_clean(refused=re.compile(r"^422 .*/decision/sign$"))
