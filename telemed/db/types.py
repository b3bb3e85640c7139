"""Column types shared by the domain models."""

from __future__ import annotations

import enum

from sqlalchemy import JSON, Enum
from sqlalchemy.dialects.postgresql import JSONB


def enum_column(cls: type[enum.Enum], name: str) -> Enum:
    """A string column limited to the enum's values by a CHECK constraint (no native type)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


JsonDocument = JSON().with_variant(JSONB(), "postgresql")
