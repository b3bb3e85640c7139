"""Schemathesis hooks for the REST fuzzing (loaded through SCHEMATHESIS_HOOKS): each
generated request goes out as the next role in turn, so one run covers every role.

The roles' bearer tokens come in TELEMED_FUZZ_TOKENS (a JSON list; null means no
session at all). With one worker the turn order, and so the whole run, is deterministic.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import schemathesis

_TOKENS: list[str | None] = json.loads(os.environ.get("TELEMED_FUZZ_TOKENS", "[null]"))
_TURNS = itertools.cycle(_TOKENS)


@schemathesis.auth(refresh_interval=None, retry_on=[])
class RoleInTurn:
    def get(self, case: Any, context: Any) -> str | None:
        return next(_TURNS)

    def set(self, case: Any, data: str | None, context: Any) -> None:
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if data is not None:
            headers["Authorization"] = f"Bearer {data}"
        case.headers = headers
