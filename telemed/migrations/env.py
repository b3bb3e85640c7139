"""Alembic environment: runs on the connection handed over by ``telemed.db.migrations``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from telemed.models import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `telemed db upgrade`.")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
