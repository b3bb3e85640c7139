"""guest invitations can be revoked

Revision ID: 0008_guest_revocation
Revises: 0007_patient_identity
Create Date: 2026-11-30 15:00:00.000000

``guest_invites.revoked_at``: the chair or secretary withdrew the invitation; its link no
longer works and the guest's session (if it was used) has ended. A plain ADD COLUMN.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telemed.db.base

revision = "0008_guest_revocation"
down_revision = "0007_patient_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "guest_invites",
        sa.Column("revoked_at", telemed.db.base.UtcDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("guest_invites", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
