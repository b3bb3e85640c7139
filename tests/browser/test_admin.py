"""Administration and one's own password in real browsers: an administrator creates a user,
seats them on a council, refuses a common password, disables the account; facilities are
created and renamed; a doctor changes their password and their other session ends."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import open_page, shoot, sign_in
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


async def test_an_administrator_manages_users_councils_and_facilities(
    server: RunningServer, browser: Browser
) -> None:
    admin = await sign_in(browser, server, "kiemtra")
    page = admin.page
    await page.get_by_test_id("nav-users").click()
    await expect(page).to_have_url(re.compile(r"/admin/users$"))
    rows = page.get_by_test_id("user-row")
    await expect(rows).to_have_count(7)

    form = page.get_by_test_id("new-user-form")
    await form.get_by_test_id("new-username").fill("gs.hohap")
    await form.get_by_test_id("new-full-name").fill("GS.TS. Lý Hô Hấp")
    await form.get_by_test_id("new-role").select_option("council_member")
    await form.get_by_test_id("new-facility").select_option("BV-HUUNGHI")
    await form.get_by_test_id("new-password").fill("iloveyou")
    await form.get_by_test_id("new-council").select_option("HDCM-TW")
    await form.get_by_test_id("new-specialty").fill("Hô hấp")
    await form.get_by_test_id("create-user").click()
    await expect(page.get_by_test_id("new-user-error")).to_contain_text(
        "nằm trong số mật khẩu phổ biến nhất"
    )
    await form.get_by_test_id("new-password").fill("phoi-va-phe-quan-2026")
    await form.get_by_test_id("create-user").click()
    await expect(page.get_by_test_id("admin-status")).to_contain_text("Đã tạo người dùng gs.hohap")
    created = page.locator('[data-testid="user-row"][data-username="gs.hohap"]')
    await expect(created.get_by_test_id("user-seats")).to_contain_text("HDCM-TW: thành viên")
    await shoot(page, "admin-users")

    # A seat is changed on the councils page.
    await page.get_by_test_id("nav-councils").click()
    central = page.locator('[data-testid="council"][data-code="HDCM-TW"]')
    await central.get_by_test_id("member-user").select_option(label="GS.TS. Lý Hô Hấp (gs.hohap)")
    await central.get_by_test_id("member-role").select_option("secretary")
    await central.get_by_test_id("member-specialty").fill("Hô hấp, lao")
    await central.get_by_test_id("member-save").click()
    member = central.locator('[data-testid="member-row"][data-username="gs.hohap"]')
    await expect(member.get_by_test_id("member-seat")).to_have_text("thư ký")
    await expect(member).to_contain_text("Hô hấp, lao")

    # Disabling asks first, then signs the user out everywhere.
    secretary = await sign_in(browser, server, "ts.thuky")
    await page.get_by_test_id("nav-users").click()
    thuky = page.locator('[data-testid="user-row"][data-username="ts.thuky"]')
    await thuky.get_by_test_id("disable-user").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("Khóa tài khoản của")
    await page.get_by_test_id("confirm-yes").click()
    await expect(thuky).to_have_attribute("data-active", "false")
    await expect(thuky.get_by_test_id("user-status")).to_have_text("Đã khóa")
    await secretary.page.reload()
    await expect(secretary.page).to_have_url(re.compile(r"/login"))

    # A new password for someone who lost theirs: the weak one is refused, in Vietnamese.
    await thuky.get_by_test_id("enable-user").click()
    await expect(thuky).to_have_attribute("data-active", "true")
    await thuky.get_by_test_id("reset-password-open").click()
    await page.get_by_test_id("reset-password-input").fill("ts.thuky")
    await page.get_by_test_id("save-password").click()
    await expect(page.get_by_test_id("reset-password-error")).to_contain_text(
        "không được trùng tên đăng nhập"
    )
    await page.get_by_test_id("reset-password-input").fill("so-tay-thu-ky-moi")
    await page.get_by_test_id("save-password").click()
    await expect(page.get_by_test_id("admin-status")).to_contain_text("Đã đặt mật khẩu mới")

    # Facilities: created, then renamed.
    await page.get_by_test_id("nav-facilities").click()
    await page.get_by_test_id("new-facility-code").fill("TYT-TANAN")
    await page.get_by_test_id("new-facility-name").fill("Trạm Y tế xã Tân Ân")
    await page.get_by_test_id("new-facility-level").select_option("commune")
    await page.get_by_test_id("create-facility").click()
    station = page.locator('[data-testid="facility-row"][data-code="TYT-TANAN"]')
    await expect(station).to_contain_text("Trạm y tế xã")
    await station.get_by_test_id("edit-facility-open").click()
    await page.get_by_test_id("edit-facility-name").fill("Trạm Y tế xã Tân Ân (Ngọc Hiển)")
    await page.get_by_test_id("save-facility").click()
    await expect(station.get_by_test_id("facility-name")).to_have_text(
        "Trạm Y tế xã Tân Ân (Ngọc Hiển)"
    )

    # Every step is in the audit log, labelled in Vietnamese.
    await page.goto("/audit?action=user.disable")
    await expect(page.get_by_test_id("audit-row").first).to_contain_text("Khóa người dùng")
    refused = re.compile(r"^422 .*/api/v1/admin/users(/\d+/password)?$")
    admin.assert_clean(refused=refused)


async def test_a_doctor_changes_their_password_and_their_other_session_ends(
    server: RunningServer, browser: Browser
) -> None:
    elsewhere = await sign_in(browser, server, "bs.namcan")
    doctor = await sign_in(browser, server, "bs.namcan")
    page = doctor.page
    await page.get_by_test_id("nav-password").click()
    await expect(page).to_have_url(re.compile(r"/account/password$"))
    await page.get_by_test_id("current-password").fill("not-the-password")
    await page.get_by_test_id("new-password").fill("nam-can-ca-mau-2026")
    await page.get_by_test_id("repeat-password").fill("nam-can-ca-mau-2026")
    await page.get_by_test_id("change-password").click()
    await expect(page.get_by_test_id("password-error")).to_have_text(
        "Mật khẩu hiện tại không đúng."
    )
    await page.get_by_test_id("current-password").fill("telemed-demo")
    await page.get_by_test_id("repeat-password").fill("something-else")
    await page.get_by_test_id("change-password").click()
    await expect(page.get_by_test_id("password-error")).to_contain_text("không khớp")
    await page.get_by_test_id("repeat-password").fill("nam-can-ca-mau-2026")
    await page.get_by_test_id("change-password").click()
    await expect(page.get_by_test_id("password-done")).to_contain_text("Đã đổi mật khẩu")
    await shoot(page, "password")

    # This session goes on; the other one has ended.
    await page.goto("/")
    await expect(page.get_by_test_id("current-user")).to_contain_text("bs.namcan")
    await elsewhere.page.reload()
    await expect(elsewhere.page).to_have_url(re.compile(r"/login"))

    fresh = await open_page(browser, server, "bs.namcan")
    await fresh.page.goto("/login")
    await fresh.page.fill("input[name=username]", "bs.namcan")
    await fresh.page.fill("input[name=password]", "nam-can-ca-mau-2026")
    await fresh.page.get_by_test_id("login-submit").click()
    await expect(fresh.page.get_by_test_id("current-user")).to_contain_text("bs.namcan")
    doctor.assert_clean(refused=re.compile(r"^403 .*/api/v1/me/password$"))
