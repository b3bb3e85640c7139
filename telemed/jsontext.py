"""The stored text of case events: written once, when the case log appends an event, and
read back by replays (``case:join``, ``GET …/events``) without rebuilding the event from
its columns. orjson writes and parses it several times faster than the standard library.

What leaves the server is still encoded by the standard library (the API's answers, and
the sockets' strict JSON of telemed/realtime/wire.py): encoding every socket message with
orjson cost 0.6 to 1.0 KiB more per idle connection (its non-ASCII text, where the
standard library escapes to ASCII) and made a replay no faster (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: object) -> str:
    """``obj`` as compact JSON text (keys that are not strings become strings)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(text: str) -> Any:
    return orjson.loads(text)
