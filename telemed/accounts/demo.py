"""The demo network of PRODUCT.md: two district centres, two councils, every role."""

from __future__ import annotations

from telemed.accounts.models import CouncilRole, FacilityLevel, UserRole
from telemed.accounts.organisations import OrganisationService
from telemed.accounts.principal import Actor
from telemed.accounts.service import AccountService, NewUser

DEMO_PASSWORD = "telemed-demo"  # noqa: S105 - published demo password, printed by `telemed demo`

FACILITIES = [
    ("TTYT-NAMCAN", "Trung tâm Y tế huyện Năm Căn (Cà Mau)", FacilityLevel.DISTRICT),
    ("TTYT-UMINH", "Trung tâm Y tế huyện U Minh (Cà Mau)", FacilityLevel.DISTRICT),
    ("BV-THONGNHAT", "Bệnh viện Thống Nhất", FacilityLevel.CENTRAL),
    ("BV-HUUNGHI", "Bệnh viện Hữu Nghị", FacilityLevel.CENTRAL),
]

COUNCILS = [
    ("HDCM-MIENNAM", "Hội đồng chuyên môn miền Nam", "BV-THONGNHAT"),
    ("HDCM-TW", "Hội đồng chuyên môn Trung ương", "BV-HUUNGHI"),
]

# username, full name, role, facility, (council, council role, specialty) or None
DemoUser = tuple[str, str, UserRole, str | None, tuple[str, CouncilRole, str] | None]

# One user a line, or two with a council seat.
# fmt: off
USERS: list[DemoUser] = [
    ("bs.namcan", "BS. Nguyễn Văn Nam", UserRole.DISTRICT_DOCTOR, "TTYT-NAMCAN", None),
    ("bs.uminh", "BS. Lê Thị Minh", UserRole.DISTRICT_DOCTOR, "TTYT-UMINH", None),
    ("gs.chutoa", "GS.TS. Trần Quốc Chủ", UserRole.COUNCIL_MEMBER, "BV-THONGNHAT",
     ("HDCM-MIENNAM", CouncilRole.CHAIR, "Nội khoa")),
    ("ts.thuky", "TS.BS. Phạm Thu Kỳ", UserRole.COUNCIL_MEMBER, "BV-THONGNHAT",
     ("HDCM-MIENNAM", CouncilRole.SECRETARY, "Nội tổng quát")),
    ("gs.timmach", "GS.TS. Võ Tâm Mạch", UserRole.COUNCIL_MEMBER, "BV-THONGNHAT",
     ("HDCM-MIENNAM", CouncilRole.MEMBER, "Tim mạch")),
    ("gs.thankinh", "GS.TS. Đỗ Thần Kinh", UserRole.COUNCIL_MEMBER, "BV-HUUNGHI",
     ("HDCM-TW", CouncilRole.MEMBER, "Thần kinh")),
    ("kiemtra", "Kiểm tra viên Hoàng Kiểm", UserRole.ADMIN, None, None),
]


# The demo's cases need someone to triage, schedule and sign for the central council:
# `telemed demo` adds its chair to the network above (the tests' network is the one above).
CASE_STAFF: list[DemoUser] = [
    ("gs.trunguong", "GS.TS. Lê Trung Ương", UserRole.COUNCIL_MEMBER, "BV-HUUNGHI",
     ("HDCM-TW", CouncilRole.CHAIR, "Nội khoa")),
]
# fmt: on


async def seed_demo_network(
    accounts: AccountService,
    organisations: OrganisationService,
    actor: Actor,
    users: list[DemoUser] | None = None,
) -> list[str]:
    """Create (or bring back to shape) the demo network; returns the demo usernames.

    ``actor`` (the CLI operator) is who the audit trail names for the accounts made;
    ``users`` are the accounts (by default the network of PRODUCT.md)."""
    users = USERS if users is None else users
    for code, name, level in FACILITIES:
        await organisations.ensure_facility(code, name, level)
    for code, name, seat_facility in COUNCILS:
        await organisations.ensure_council(code, name, seat_facility)
    for username, full_name, role, facility, seat in users:
        # The seat is set apart, and again on every run: it brings a changed seat back.
        await accounts.add_user(
            actor, NewUser(username, full_name, role, DEMO_PASSWORD, facility), exist_ok=True
        )
        if seat is not None:
            council, council_role, specialty = seat
            await accounts.set_membership(actor, username, council, council_role, specialty)
    return [username for username, *_ in users]
