"""The JSON shapes every domain shares: a JSON object, a time, and who did something."""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

from telemed.accounts.models import User
from telemed.accounts.principal import Principal

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@overload
def actor_json(who: User | Principal) -> Json: ...


@overload
def actor_json(who: User | Principal | None) -> Json | None: ...


def actor_json(who: User | Principal | None) -> Json | None:
    """A person as boards, events and presence name them (an account or a guest)."""
    if who is None:
        return None
    ident = who.user_id if isinstance(who, Principal) else who.id
    return {"id": ident, "username": who.username, "full_name": who.full_name}
