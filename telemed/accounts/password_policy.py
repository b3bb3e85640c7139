"""Which new passwords are accepted: long enough, and not one that attackers try first.

The rules follow NIST SP 800-63B: a minimum length, a check against passwords known from
breaches, and no composition rules (they push people to ``Password1!``). The list is the
30,000 most common passwords that zxcvbn ranks (from leaked-password corpora); it ships
with the library, so the check works on a hospital network with no internet access.
"""

from __future__ import annotations

from functools import cache

from telemed.errors import FieldProblem

MIN_LENGTH = 8
# Argon2 hashes any length; the bound keeps a request from making the server hash megabytes.
MAX_LENGTH = 256


@cache
def common_passwords() -> frozenset[str]:
    # Imported on first use: the module is a 800 kB list the CLI's other commands never need.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    ranked = FREQUENCY_LISTS["passwords"]
    words = ranked.split(",") if isinstance(ranked, str) else ranked
    return frozenset(str(word).lower() for word in words)


def password_problems(password: str, username: str, field: str = "password") -> list[FieldProblem]:
    """What is wrong with ``password`` as a new password for ``username`` (empty: nothing)."""
    if len(password) < MIN_LENGTH:
        return [FieldProblem(field, f"at least {MIN_LENGTH} characters", "password_too_short")]
    if len(password) > MAX_LENGTH:
        return [FieldProblem(field, f"at most {MAX_LENGTH} characters", "password_too_long")]
    folded = password.lower()
    if username and folded == username.lower():
        return [FieldProblem(field, "must not be the username", "password_is_username")]
    if folded in common_passwords():
        return [
            FieldProblem(
                field, "one of the most common passwords: choose another", "password_common"
            )
        ]
    return []
