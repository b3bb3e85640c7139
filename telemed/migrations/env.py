"""Alembic environment: runs on the connection handed over by ``telemed.db.migrations``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from telemed.models import is_unmapped, metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `telemed db upgrade`.")


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name is not None and is_unmapped(name))


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=_include_name,
)
with context.begin_transaction():
    context.run_migrations()
