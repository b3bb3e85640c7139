"""Deadlines in the browser: the queue says how long the council has left to answer, or
how long it is overdue, and the case page says the same of the answer, then the decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from telemed.clock import ManualClock
from tests.browser.calls import in_room
from tests.browser.pages import sign_in
from tests.support.cases import act, create_case
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


@pytest.fixture
def clock() -> ManualClock:
    # The pages count against the browser's clock: requests made two hours ago.
    return ManualClock(datetime.now(UTC) - timedelta(hours=2))


async def test_the_queue_and_the_case_show_the_time_left_or_overdue(
    server: RunningServer, browser: Browser, clock: ManualClock
) -> None:
    doctor = await server.sign_in("bs.namcan")
    emergency = int((await create_case(doctor, urgency="emergency", patient_code="E"))["id"])
    routine = int((await create_case(doctor, urgency="routine", patient_code="R"))["id"])
    clock.advance(timedelta(hours=2).total_seconds())

    chair = await sign_in(browser, server, "gs.chutoa")
    late = chair.page.locator(f"[data-case-id='{emergency}'] [data-testid=deadline]")
    await expect(late).to_have_attribute("data-over", "true")
    await expect(late).to_contain_text("quá hạn trả lời 1 giờ")  # due an hour ago
    early = chair.page.locator(f"[data-case-id='{routine}'] [data-testid=deadline]")
    await expect(early).to_have_attribute("data-over", "false")
    await expect(early).to_contain_text("cần trả lời trong 2 ngày")  # 70 hours left

    room = await in_room(browser, server, "gs.chutoa", routine)
    header = room.page.get_by_test_id("case-deadline").get_by_test_id("deadline")
    await expect(header).to_have_attribute("data-kind", "answer")
    await act(await server.sign_in("gs.chutoa"), routine, "accept")
    await expect(header).to_have_attribute("data-kind", "decision")
    await expect(header).to_contain_text("cần kết luận trong")
    for person in (chair, room):
        person.assert_clean()
