"""JSON text as Telemed writes it: one encoder for the API's answers, the sockets' messages
and the stored events (orjson: several times faster than the standard library's), and
stored JSON text embedded as it is (``Raw``), so that replaying a case's log serializes
nothing again: each event's JSON is written once, when it is appended.

NaN and infinities are written as ``null`` (the standard library writes ``NaN``, which
browsers refuse to parse); keys that are not strings are written as strings, as the
standard library does.
"""

from __future__ import annotations

import orjson

# Already-encoded JSON, embedded as it is by ``dumps``.
Raw = orjson.Fragment
loads = orjson.loads

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(obj: object, **_ignored: object) -> str:
    """``obj`` as compact JSON text (keyword arguments of ``json.dumps`` are ignored)."""
    return orjson.dumps(obj, option=_OPTIONS).decode()
