"""A user's optional email address, set by the administrator: where notifications go by
email when the server sends email."""

from __future__ import annotations

from tests.support.api import call
from tests.support.server import RunningServer

USERS = "/api/v1/admin/users"
NEW = {
    "username": "bs.thu",
    "full_name": "BS. Thư",
    "role": "district_doctor",
    "facility": "TTYT-NAMCAN",
    "password": "mot-mat-khau-dai",
}


async def test_an_address_is_set_changed_and_cleared(server: RunningServer) -> None:
    admin = await server.sign_in("kiemtra")
    created = await call(admin, "POST", USERS, {**NEW, "email": " thu@ttyt.example "}, expect=201)
    assert created["email"] == "thu@ttyt.example"
    update = {"full_name": "BS. Thư", "role": "district_doctor", "facility": "TTYT-NAMCAN"}
    path = f"{USERS}/{created['id']}"
    changed = await call(admin, "PUT", path, {**update, "email": "thu2@ttyt.example"})
    assert changed["email"] == "thu2@ttyt.example"
    listed = (await call(admin, "GET", USERS))["items"]
    assert next(u for u in listed if u["username"] == "bs.thu")["email"] == "thu2@ttyt.example"
    # An update without it clears it (the page always sends what the form holds).
    assert (await call(admin, "PUT", path, update))["email"] is None


async def test_a_malformed_address_is_refused(server: RunningServer) -> None:
    admin = await server.sign_in("kiemtra")
    for bad in ("khong-co-a-cong", "a@b", "a b@c.vn", "x" * 250 + "@c.vn"):
        refused = await call(admin, "POST", USERS, {**NEW, "email": bad}, expect=422)
        assert refused["error"]["code"] == "validation_error"
        assert refused["error"]["fields"][0]["field"] == "email"
