"""The hash chain: the canonical encoding of a row and how each hash is computed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

CHAINED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "actor_facility",
    "address",
    "action",
    "case_id",
    "object_id",
    "outcome",
    "request_id",
)
# Chained only when set, so that rows written before the field existed keep their hashes:
# the SHA-256 of the signed decision or note that the row records, and the step-up (the
# password re-entered) behind a signature.
OPTIONAL_CHAINED_FIELDS = ("content_hash", "stepped_up_at")
EXPORTED_FIELDS = (*CHAINED_FIELDS, *OPTIONAL_CHAINED_FIELDS)


def timestamp(value: datetime) -> str:
    """UTC with microseconds and a Z: the one text form of a time in hashes and signatures."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return timestamp(value)
    return value


def canonical_values(values: Mapping[str, Any]) -> bytes:
    """Sorted-key compact JSON of a row's chained fields (the optional ones when set), UTF-8."""
    fields = {name: _value(values[name]) for name in CHAINED_FIELDS}
    fields.update(
        (name, _value(values[name]))
        for name in OPTIONAL_CHAINED_FIELDS
        if values.get(name) is not None
    )
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def values_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_values(values)).hexdigest()
