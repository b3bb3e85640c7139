"""notes keep their rendered HTML

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from telemed.cases.markdown import render

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_html", sa.Text(), nullable=False, server_default=""))
    # Existing notes get their HTML once, with the renderer the application uses.
    notes = sa.table(
        "notes",
        sa.column("id", sa.Integer),
        sa.column("body", sa.Text),
        sa.column("body_html", sa.Text),
    )
    connection = op.get_bind()
    for note_id, body in connection.execute(sa.select(notes.c.id, notes.c.body)).all():
        connection.execute(
            sa.update(notes).where(notes.c.id == note_id).values(body_html=render(body))
        )


def downgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("body_html")
