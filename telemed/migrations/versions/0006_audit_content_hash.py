"""audit rows carry the SHA-256 of the signed decision or note they record

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:00:00.000000

``audit_log.content_hash`` is a chained field (it is part of the row's hash when it is
set), so a signed decision or a note cannot be changed afterwards without verification
finding it (docs/audit.md). Rows written before this revision have none and keep their
hashes. A plain ADD COLUMN: on SQLite a batch copy would drop the append-only triggers.
Downgrading drops the column, and with it the part of the hash of every row that had one:
those rows then fail verification.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("content_hash", sa.String(length=64), nullable=True))
    # Verification finds the binding row of each decision and note by (action, object_id).
    op.create_index(
        "ix_audit_log_action_object", "audit_log", ["action", "object_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_action_object", table_name="audit_log")
    op.execute("ALTER TABLE audit_log DROP COLUMN content_hash")
