"""step-up before a signature, and the council's first answer that deadlines run from

Revision ID: 0012_step_up_and_deadlines
Revises: 0011_consultation_mode
Create Date: 2026-11-30 18:00:00.000000

``auth_sessions.stepped_up_at``: the moment the session's user last confirmed their
password (``POST /api/v1/session/step-up``); signing and amending a decision require it
to be recent. ``audit_log.stepped_up_at``: that moment, on the audit row of the signature;
a chained field when set, like ``content_hash`` (rows without it keep their hashes). Plain
ADD COLUMNs: on SQLite a batch copy would drop the audit log's append-only triggers.

``cases.first_answered_at``: when the council first answered the request (accepted,
declined, or asked a question back); the answer's deadline ends and the decision's starts
there (telemed/cases/deadlines.py). Filled for existing cases from their logs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from telemed.db.base import UtcDateTime

revision = "0012_step_up_and_deadlines"
down_revision = "0011_consultation_mode"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "auth_sessions", sa.Column("stepped_up_at", UtcDateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "audit_log", sa.Column("stepped_up_at", UtcDateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "cases", sa.Column("first_answered_at", UtcDateTime(timezone=True), nullable=True)
    )
    # The council's answers to a request, as the case log names them.
    op.execute(
        "UPDATE cases SET first_answered_at = (SELECT MIN(e.at) FROM case_events e "
        "WHERE e.case_id = cases.id "
        "AND e.type IN ('case.accepted', 'case.declined', 'case.info_requested'))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE cases DROP COLUMN first_answered_at")
    op.execute("ALTER TABLE audit_log DROP COLUMN stepped_up_at")
    op.execute("ALTER TABLE auth_sessions DROP COLUMN stepped_up_at")
