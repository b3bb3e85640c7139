"""guest invitations (call state is kept in memory, not stored)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:59:59.748219
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telemed.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guest_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", telemed.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", telemed.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", telemed.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=True),
        sa.Column("session_expires_at", telemed.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_guest_invites_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"], ["users.id"], name=op.f("fk_guest_invites_invited_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guest_invites")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_guest_invites_session_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_guest_invites_token_hash")),
    )
    with op.batch_alter_table("guest_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guest_invites_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guest_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guest_invites_case_id"))

    op.drop_table("guest_invites")
