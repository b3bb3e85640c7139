"""a case is consulted in writing or in a live session

Revision ID: 0011_consultation_mode
Revises: 0010_notifications
Create Date: 2026-11-30 18:00:00.000000

``cases.mode`` (written or live, None until accepted), ``cases.answer_by`` (the written
round's deadline) and ``cases.round_closed_at`` (the chair closed the written round). Every
case accepted before this revision was accepted for a live session: it says so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telemed.db.base

revision = "0011_consultation_mode"
down_revision = "0010_notifications"
branch_labels = None
depends_on = None

MODES = ("written", "live")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        mode = sa.Enum(
            *MODES, name="consultation_mode", native_enum=False, create_constraint=True, length=32
        )
        op.add_column("cases", sa.Column("mode", mode, nullable=True))
    else:
        # SQLite adds a column with its CHECK inline, not as a separate ALTER.
        allowed = ", ".join(f"'{m}'" for m in MODES)
        op.execute(
            "ALTER TABLE cases ADD COLUMN mode VARCHAR(32) "
            f"CONSTRAINT ck_cases_consultation_mode CHECK (mode IN ({allowed}))"
        )
    op.add_column(
        "cases", sa.Column("answer_by", telemed.db.base.UtcDateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "cases",
        sa.Column("round_closed_at", telemed.db.base.UtcDateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE cases SET mode = 'live' WHERE EXISTS (SELECT 1 FROM case_events "
        "WHERE case_events.case_id = cases.id AND case_events.type = 'case.accepted')"
    )


def downgrade() -> None:
    # A plain DROP COLUMN on both backends (SQLite 3.35+): recreating ``cases`` in a batch
    # would drop a table that other tables' foreign keys point to. The column's CHECK goes
    # with it.
    for column in ("round_closed_at", "answer_by", "mode"):
        op.drop_column("cases", column)
