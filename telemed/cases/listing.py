"""The case list and search: the reader's scope and filters as a query, and its cursors.

A cursor is opaque to clients: the position of the last case of a page, as JSON in
base64, read back through the same bounds as any input.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import TypeAdapter

from telemed.accounts.models import UserRole
from telemed.accounts.principal import Principal
from telemed.cases.models import Case
from telemed.cases.repository import CaseFilter, CaseRepository, Position
from telemed.cases.schemas import CaseListQuery, CaseSort, ListPosition
from telemed.cases.search_text import MAX_QUERY_WORDS
from telemed.cases.search_text import words as search_words
from telemed.errors import FieldProblem, Forbidden, NotFound, ValidationFailed


def encode_cursor(case: Case, sort: CaseSort) -> str:
    position: list[object] = [case.urgency_rank, case.created_at.isoformat(), case.id]
    if sort != "urgency":  # the queue's cursors stay as they were before other orders
        position.append(sort)
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


_LIST_POSITION: TypeAdapter[ListPosition] = TypeAdapter(ListPosition)


def decode_cursor(cursor: str, sort: CaseSort) -> Position:
    try:
        position = _LIST_POSITION.validate_json(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:  # ValidationError is a ValueError
        raise ValidationFailed(
            [FieldProblem("cursor", "not a cursor this server issued")]
        ) from error
    if (position[3] if len(position) == 4 else "urgency") != sort:
        raise ValidationFailed([FieldProblem("cursor", "a cursor of another sort order")])
    return position[0], position[1], position[2]


async def case_filter(
    repo: CaseRepository, principal: Principal, query: CaseListQuery
) -> CaseFilter:
    """The reader's scope (access.py's rule as a query) and what the query asks."""
    scope: dict[str, Any] = {}
    if principal.role is UserRole.DISTRICT_DOCTOR:
        scope["facility_scope"] = principal.facility.id if principal.facility else -1
    elif principal.role is UserRole.COUNCIL_MEMBER:
        scope["council_scope"] = [seat.council_id for seat in principal.councils]
    elif principal.role is not UserRole.ADMIN:
        # A guest (invited to one call) has no list, and is answered as for any
        # other case it may not see: as if there were nothing there.
        raise NotFound("No such list.")
    words: list[str] = []
    if query.q is not None:
        if principal.role is UserRole.ADMIN:
            # Every case an administrator sees is metadata only: matching words of the
            # title or summary would reveal them.
            raise Forbidden("Administrators search by metadata only, not by words.")
        words = search_words(query.q)
        if not words:
            raise ValidationFailed([FieldProblem("q", "no words to search for", "no_words")])
        if len(words) > MAX_QUERY_WORDS:
            raise ValidationFailed(
                [FieldProblem("q", f"at most {MAX_QUERY_WORDS} words", "too_many_words")]
            )
    if query.from_ and query.to and query.from_ >= query.to:
        raise ValidationFailed([FieldProblem("to", "must be later than from")])
    return CaseFilter(
        **scope,
        status=query.status,
        urgency=query.urgency,
        council_id=await _council_id(repo, query.council),
        facility_id=await _facility_id(repo, query.facility),
        created_from=query.from_,
        created_to=query.to,
        words=words,
        sort=query.sort,
    )


async def _council_id(repo: CaseRepository, code: str | None) -> int | None:
    if code is None:
        return None
    council = await repo.council_by_code(code)
    if council is None:
        raise ValidationFailed([FieldProblem("council", f"no council {code!r}")])
    return council.id


async def _facility_id(repo: CaseRepository, code: str | None) -> int | None:
    if code is None:
        return None
    facility = await repo.facility_by_code(code)
    if facility is None:
        raise ValidationFailed([FieldProblem("facility", f"no facility {code!r}")])
    return facility.id
