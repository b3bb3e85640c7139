"""Administration of users, councils and facilities, and a user's own password change,
through the real HTTP API: the rules, the sessions that end, and the audit rows."""

from __future__ import annotations

from typing import Any

from telemed.accounts.password_policy import common_passwords, password_problems
from tests.support.api import call
from tests.support.audit import audit_rows
from tests.support.server import RunningServer, SignedIn

AD = "/api/v1/admin"
NEW_USER: dict[str, Any] = {
    "username": "bs.moi",
    "full_name": "BS. Trần Văn Mới",
    "role": "district_doctor",
    "facility": "TTYT-NAMCAN",
    "password": "mot-mat-khau-dai",
}


def codes(body: dict[str, Any]) -> list[str]:
    return [problem.get("code", "") for problem in body["error"]["fields"]]


async def user_id(admin: SignedIn, username: str) -> int:
    users = (await call(admin, "GET", f"{AD}/users"))["items"]
    return int(next(u["id"] for u in users if u["username"] == username))


async def status_of(who: SignedIn) -> int:
    async with who.http.get("/api/v1/me", headers=who.bearer) as response:
        return response.status


def test_the_policy_wants_length_and_refuses_common_passwords_and_the_username() -> None:
    assert "qwertyuiop" in common_passwords()
    assert len(common_passwords()) > 20_000
    assert [p.code for p in password_problems("short", "x")] == ["password_too_short"]
    assert [p.code for p in password_problems("QwertyUIOP", "x")] == ["password_common"]
    assert [p.code for p in password_problems("Bs.Namcan", "bs.namcan")] == ["password_is_username"]
    assert [p.code for p in password_problems("x" * 257, "x")] == ["password_too_long"]
    # No composition rules: a long phrase of lower-case words is fine.
    assert password_problems("ca mau dong bang song cuu long", "bs.namcan") == []


async def test_an_administrator_creates_a_user_who_then_signs_in(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    made = await call(admin, "POST", f"{AD}/users", NEW_USER, 201)
    assert made["username"] == "bs.moi"
    assert made["facility"]["code"] == "TTYT-NAMCAN"
    assert made["is_active"] is True
    assert "password" not in str(made)
    doctor = await server.sign_in("bs.moi", "mot-mat-khau-dai")
    assert doctor.user["role"] == "district_doctor"
    rows = await audit_rows(settings.database_url, action="user.create")
    assert [(r["actor_username"], r["object_id"], r["outcome"]) for r in rows][-1] == (
        "kiemtra",
        "bs.moi",
        "success",
    )


async def test_a_new_council_member_can_be_seated_at_creation(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    body = {
        **NEW_USER,
        "username": "gs.hohap",
        "role": "council_member",
        "facility": "BV-HUUNGHI",
        "council": "HDCM-TW",
        "council_role": "secretary",
        "specialty": "Hô hấp",
    }
    made = await call(admin, "POST", f"{AD}/users", body, 201)
    assert [(c["code"], c["council_role"], c["specialty"]) for c in made["councils"]] == [
        ("HDCM-TW", "secretary", "Hô hấp")
    ]
    doctor_seated = {**body, "username": "bs.ghe", "role": "district_doctor"}
    refused = await call(admin, "POST", f"{AD}/users", doctor_seated, 422)
    assert codes(refused) == ["not_council_member"]
    # One unit of work, two rows: the account and the seat, as the CLI's two steps wrote.
    rows = await audit_rows(settings.database_url, actor_username="kiemtra")
    assert [(r["action"], r["object_id"], r["outcome"]) for r in rows][-3:] == [
        ("user.create", "gs.hohap", "success"),
        ("council.member_set", "HDCM-TW", "success"),
        ("user.create", "bs.ghe", "error"),
    ]


async def test_new_users_are_checked_and_refusals_are_explained_and_audited(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    short = await call(admin, "POST", f"{AD}/users", {**NEW_USER, "password": "ngan"}, 422)
    assert codes(short) == ["password_too_short"]
    common = await call(admin, "POST", f"{AD}/users", {**NEW_USER, "password": "iloveyou"}, 422)
    assert codes(common) == ["password_common"]
    no_facility = {**NEW_USER, "facility": None}
    assert codes(await call(admin, "POST", f"{AD}/users", no_facility, 422)) == [
        "facility_required"
    ]
    unknown = {**NEW_USER, "facility": "TTYT-KHONGCO"}
    assert codes(await call(admin, "POST", f"{AD}/users", unknown, 422)) == ["unknown_facility"]
    taken = await call(admin, "POST", f"{AD}/users", {**NEW_USER, "username": "bs.uminh"}, 409)
    assert taken["error"]["code"] == "already_exists"
    chair = await server.sign_in("gs.chutoa")
    await call(chair, "POST", f"{AD}/users", NEW_USER, 403)
    await call(chair, "GET", f"{AD}/users", None, 403)
    rows = await audit_rows(settings.database_url, action="user.create")
    assert [(r["actor_username"], r["outcome"]) for r in rows][-6:] == [
        ("kiemtra", "error"),
        ("kiemtra", "error"),
        ("kiemtra", "error"),
        ("kiemtra", "error"),
        ("kiemtra", "error"),
        ("gs.chutoa", "denied"),
    ]


async def test_disabling_ends_every_session_and_enabling_lets_the_user_back(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    first, second = await server.sign_in("bs.uminh"), await server.sign_in("bs.uminh")
    uminh = await user_id(admin, "bs.uminh")
    await call(admin, "POST", f"{AD}/users/{uminh}/disable", None)
    assert [await status_of(first), await status_of(second)] == [401, 401]
    async with server.http().post(
        "/api/v1/auth/login", json={"username": "bs.uminh", "password": "telemed-demo"}
    ) as response:
        assert response.status == 401
    await call(admin, "POST", f"{AD}/users/{uminh}/enable", None)
    assert await status_of(await server.sign_in("bs.uminh")) == 200
    own = await call(admin, "POST", f"{AD}/users/{admin.user['id']}/disable", None, 422)
    assert codes(own) == ["own_account"]
    await call(admin, "POST", f"{AD}/users/999999/disable", None, 404)
    rows = await audit_rows(settings.database_url, actor_username="kiemtra")
    assert [(r["action"], r["object_id"], r["outcome"]) for r in rows][-4:] == [
        ("user.disable", "bs.uminh", "success"),
        ("user.enable", "bs.uminh", "success"),
        ("user.disable", "kiemtra", "error"),
        ("user.disable", "999999", "denied"),
    ]


async def test_a_reset_password_replaces_the_old_one_and_ends_the_sessions(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    doctor = await server.sign_in("bs.uminh")
    uminh = await user_id(admin, "bs.uminh")
    weak = await call(admin, "POST", f"{AD}/users/{uminh}/password", {"password": "123456789"}, 422)
    assert codes(weak) == ["password_common"]
    assert await status_of(doctor) == 200
    await call(admin, "POST", f"{AD}/users/{uminh}/password", {"password": "mat-khau-moi-123"})
    assert await status_of(doctor) == 401
    assert await status_of(await server.sign_in("bs.uminh", "mat-khau-moi-123")) == 200
    async with server.http().post(
        "/api/v1/auth/login", json={"username": "bs.uminh", "password": "telemed-demo"}
    ) as response:
        assert response.status == 401
    rows = await audit_rows(settings.database_url, action="user.password_reset")
    assert [(r["object_id"], r["outcome"]) for r in rows] == [
        ("bs.uminh", "error"),
        ("bs.uminh", "success"),
    ]


async def test_roles_change_with_the_rules_of_seats_and_facilities(server: RunningServer) -> None:
    admin = await server.sign_in("kiemtra")
    neuro = await user_id(admin, "gs.thankinh")
    as_doctor = {"full_name": "GS.TS. Đỗ Thần Kinh", "role": "district_doctor"}
    refused = await call(admin, "PUT", f"{AD}/users/{neuro}", as_doctor, 422)
    assert sorted(codes(refused)) == ["facility_required", "seated"]
    await call(admin, "DELETE", f"{AD}/councils/2/members/{neuro}", None)
    moved = await call(admin, "PUT", f"{AD}/users/{neuro}", {**as_doctor, "facility": "TTYT-UMINH"})
    assert (moved["role"], moved["facility"]["code"], moved["councils"]) == (
        "district_doctor",
        "TTYT-UMINH",
        [],
    )
    demoted = {"full_name": "Kiểm tra viên", "role": "council_member"}
    own = await call(admin, "PUT", f"{AD}/users/{admin.user['id']}", demoted, 422)
    assert codes(own) == ["own_account"]
    renamed = {"full_name": "Kiểm tra viên Hoàng Văn Kiểm", "role": "admin"}
    assert (await call(admin, "PUT", f"{AD}/users/{admin.user['id']}", renamed))["full_name"] == (
        "Kiểm tra viên Hoàng Văn Kiểm"
    )


async def test_council_seats_are_set_changed_and_removed(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    cardio, doctor = await user_id(admin, "gs.timmach"), await user_id(admin, "bs.namcan")
    seat = {"council_role": "chair", "specialty": "Tim mạch can thiệp"}
    await call(admin, "PUT", f"{AD}/councils/2/members/{cardio}", seat)
    councils = {c["code"]: c for c in (await call(admin, "GET", f"{AD}/councils"))["items"]}
    members = {m["user"]["username"]: m for m in councils["HDCM-TW"]["members"]}
    assert (members["gs.timmach"]["council_role"], members["gs.timmach"]["specialty"]) == (
        "chair",
        "Tim mạch can thiệp",
    )
    assert (await server.sign_in("gs.timmach")).user["councils"][1]["council_role"] == "chair"
    refused = await call(admin, "PUT", f"{AD}/councils/2/members/{doctor}", seat, 422)
    assert codes(refused) == ["not_council_member"]
    await call(admin, "DELETE", f"{AD}/councils/2/members/{cardio}", None)
    await call(admin, "DELETE", f"{AD}/councils/2/members/{cardio}", None, 404)
    await call(admin, "PUT", f"{AD}/councils/99/members/{cardio}", seat, 404)
    rows = await audit_rows(settings.database_url, actor_username="kiemtra")
    assert [
        (r["action"], r["object_id"], r["outcome"]) for r in rows if "member" in r["action"]
    ] == [
        ("council.member_set", "HDCM-TW", "success"),
        ("council.member_set", "HDCM-TW", "error"),
        ("council.member_remove", "HDCM-TW", "success"),
        ("council.member_remove", "HDCM-TW", "denied"),
        ("council.member_set", "99", "denied"),
    ]


async def test_facilities_and_councils_are_created_and_updated(
    server: RunningServer, settings: Any
) -> None:
    admin = await server.sign_in("kiemtra")
    station = {"code": "TYT-TANAN", "name": "Trạm Y tế xã Tân Ân", "level": "commune"}
    made = await call(admin, "POST", f"{AD}/facilities", station, 201)
    assert (made["code"], made["level"]) == ("TYT-TANAN", "commune")
    assert (await call(admin, "POST", f"{AD}/facilities", station, 409))["error"]["code"] == (
        "already_exists"
    )
    renamed = await call(
        admin,
        "PUT",
        f"{AD}/facilities/{made['id']}",
        {"name": "Trạm Y tế xã Tân Ân (Ngọc Hiển)", "level": "commune"},
    )
    assert renamed["name"] == "Trạm Y tế xã Tân Ân (Ngọc Hiển)"
    council = {"code": "HDCM-CAMAU", "name": "Hội đồng tỉnh Cà Mau", "seat_facility": "TYT-X"}
    assert codes(await call(admin, "POST", f"{AD}/councils", council, 422)) == ["unknown_facility"]
    council["seat_facility"] = "BV-THONGNHAT"
    created = await call(admin, "POST", f"{AD}/councils", council, 201)
    assert (created["seat_facility"]["code"], created["members"]) == ("BV-THONGNHAT", [])
    moved = await call(
        admin,
        "PUT",
        f"{AD}/councils/{created['id']}",
        {"name": "Hội đồng chuyên môn tỉnh Cà Mau", "seat_facility": "TYT-TANAN"},
    )
    assert moved["seat_facility"]["code"] == "TYT-TANAN"
    doctor = await server.sign_in("bs.namcan")
    async with doctor.http.get("/cases/new") as response:
        assert '<option value="HDCM-CAMAU">' in await response.text()
    await call(doctor, "POST", f"{AD}/facilities", station, 403)
    rows = await audit_rows(settings.database_url, actor_username="kiemtra")
    assert [(r["action"], r["object_id"], r["outcome"]) for r in rows][-6:] == [
        ("facility.create", "TYT-TANAN", "success"),
        ("facility.create", "TYT-TANAN", "error"),
        ("facility.update", "TYT-TANAN", "success"),
        ("council.create", "HDCM-CAMAU", "error"),
        ("council.create", "HDCM-CAMAU", "success"),
        ("council.update", "HDCM-CAMAU", "success"),
    ]


async def test_changing_ones_own_password_needs_the_current_one_and_ends_other_sessions(
    server: RunningServer, settings: Any
) -> None:
    here, elsewhere = await server.sign_in("bs.namcan"), await server.sign_in("bs.namcan")
    path = "/api/v1/me/password"
    wrong = {"current_password": "not-my-password", "new_password": "dong-bang-song-cuu-long"}
    assert (await call(here, "POST", path, wrong, 403))["error"]["code"] == "wrong_password"
    assert await status_of(here) == 200  # a wrong current password does not sign one out
    common = {"current_password": "telemed-demo", "new_password": "password1"}
    assert codes(await call(here, "POST", path, common, 422)) == ["password_common"]
    good = {"current_password": "telemed-demo", "new_password": "dong-bang-song-cuu-long"}
    await call(here, "POST", path, good)
    assert [await status_of(here), await status_of(elsewhere)] == [200, 401]
    assert await status_of(await server.sign_in("bs.namcan", "dong-bang-song-cuu-long")) == 200
    rows = await audit_rows(settings.database_url, action="user.password_change")
    assert [(r["actor_username"], r["object_id"], r["outcome"]) for r in rows] == [
        ("bs.namcan", "bs.namcan", "denied"),
        ("bs.namcan", "bs.namcan", "error"),
        ("bs.namcan", "bs.namcan", "success"),
    ]
