"""patient identity, sealed per case

Revision ID: 0007_patient_identity
Revises: 0006
Create Date: 2026-11-30 15:00:00.000000

``case_identities`` holds one AES-GCM sealed identity per case (full name, date of birth,
national ID, health-insurance number, the requesting hospital's record number), keyed by
the identity key outside the database (telemed/cases/identity_cipher.py). Downgrading
drops the table, and the identities with it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telemed.db.base

revision = "0007_patient_identity"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_identities",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", telemed.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_identities_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_identities")),
    )


def downgrade() -> None:
    op.drop_table("case_identities")
