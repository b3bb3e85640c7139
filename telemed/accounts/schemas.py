"""Typed inputs of the administration API and of a user's own password change."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from telemed.accounts.models import CouncilRole, FacilityLevel, UserRole
from telemed.schemas import Strict

# Facility and council codes: short, stable, readable in the audit trail ("TTYT-NAMCAN").
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.-]+$"),
]
Specialty = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
# Length and commonness are the password policy's (telemed/accounts/password_policy.py),
# checked by the service so that the CLI gets the same answer; this only bounds the input.
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# Where notifications go by email (optional): one address, checked only for its shape.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]


class FacilityInput(Strict):
    code: Code
    name: Name
    level: FacilityLevel


class FacilityUpdate(Strict):
    name: Name
    level: FacilityLevel


class CouncilInput(Strict):
    code: Code
    name: Name
    seat_facility: Code = Field(description="code of the facility the council sits at")


class CouncilUpdate(Strict):
    name: Name
    seat_facility: Code = Field(description="code of the facility the council sits at")


class SeatInput(Strict):
    council_role: CouncilRole
    specialty: Specialty = ""


class NewUserInput(Strict):
    username: Username
    full_name: Name
    role: UserRole
    password: Password
    facility: Code | None = Field(default=None, description="facility code")
    council: Code | None = Field(default=None, description="council code to seat the user on")
    council_role: CouncilRole = CouncilRole.MEMBER
    specialty: Specialty = ""
    email: Email | None = Field(default=None, description="for notifications by email")


class UserUpdate(Strict):
    full_name: Name
    role: UserRole
    facility: Code | None = Field(default=None, description="facility code")
    email: Email | None = Field(default=None, description="for notifications by email; null: none")


class PasswordReset(Strict):
    password: Password


class PasswordChange(Strict):
    current_password: Password
    new_password: Password
