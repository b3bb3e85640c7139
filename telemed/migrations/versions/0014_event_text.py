"""each event's JSON as the room receives it, stored once

Revision ID: 0014_event_text
Revises: 0013_board_pages
Create Date: 2026-12-01 10:00:00.000000

``case_events.body``: the whole event (case, seq, type, actor, time, data) as JSON text,
written when it is appended; a replay sends it as it is instead of rebuilding and
encoding every event again (telemed/jsontext.py). Existing events get theirs here, built
as the application builds them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from telemed import jsontext
from telemed.db.base import UtcDateTime
from telemed.db.types import JsonDocument

revision = "0014_event_text"
down_revision = "0013_board_pages"
branch_labels = None
depends_on = None

BATCH = 1000

events = sa.table(
    "case_events",
    sa.column("id", sa.Integer()),
    sa.column("case_id", sa.Integer()),
    sa.column("seq", sa.Integer()),
    sa.column("type", sa.String()),
    sa.column("actor_id", sa.Integer()),
    sa.column("at", UtcDateTime()),
    sa.column("data", JsonDocument),
    sa.column("body", sa.Text()),
)
users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("username", sa.String()),
    sa.column("full_name", sa.String()),
)


def upgrade() -> None:
    op.add_column("case_events", sa.Column("body", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    actors = {
        row.id: {"id": row.id, "username": row.username, "full_name": row.full_name}
        for row in bind.execute(sa.select(users.c.id, users.c.username, users.c.full_name))
    }
    after = 0
    while True:
        rows = bind.execute(
            sa.select(events).where(events.c.id > after).order_by(events.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        bodies = [
            {
                "row_id": row.id,
                "text": jsontext.dumps(
                    {
                        "case_id": row.case_id,
                        "seq": row.seq,
                        "type": row.type,
                        "actor": actors.get(row.actor_id) if row.actor_id else None,
                        "at": row.at.isoformat(),
                        "data": row.data,
                    }
                ),
            }
            for row in rows
        ]
        bind.execute(
            events.update().where(events.c.id == sa.bindparam("row_id")),
            [{"row_id": b["row_id"], "body": b["text"]} for b in bodies],
        )
        after = rows[-1].id


def downgrade() -> None:
    op.execute("ALTER TABLE case_events DROP COLUMN body")
