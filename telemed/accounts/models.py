"""Storage models for facilities, councils, users and sign-in sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from telemed.db.base import Base, UtcDateTime
from telemed.db.types import enum_column


class FacilityLevel(enum.StrEnum):
    COMMUNE = "commune"
    DISTRICT = "district"
    PROVINCIAL = "provincial"
    CENTRAL = "central"


class UserRole(enum.StrEnum):
    DISTRICT_DOCTOR = "district_doctor"
    COUNCIL_MEMBER = "council_member"
    ADMIN = "admin"


class CouncilRole(enum.StrEnum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    MEMBER = "member"


class Facility(Base):
    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[FacilityLevel] = mapped_column(enum_column(FacilityLevel, "facility_level"))


class Council(Base):
    __tablename__ = "councils"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    seat_facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))

    seat_facility: Mapped[Facility] = relationship(lazy="joined")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(enum_column(UserRole, "user_role"))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Where notifications go by email, when the server sends email (TELEMED_SMTP_HOST).
    email: Mapped[str | None] = mapped_column(String(254))

    facility: Mapped[Facility | None] = relationship(lazy="joined")


class CouncilMembership(Base):
    __tablename__ = "council_memberships"

    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    council_role: Mapped[CouncilRole] = mapped_column(enum_column(CouncilRole, "council_role"))
    specialty: Mapped[str] = mapped_column(String(100), default="")

    council: Mapped[Council] = relationship(lazy="joined")


class AuthSession(Base):
    """A signed-in session. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # When the user last re-entered their password in this session (a step-up): a
    # signature needs a recent one (added by 0012).
    stepped_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginFailures(Base):
    """Recent failed sign-ins per key (``account:<name>`` or ``address:<ip>``)."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime())
