"""indexes for a paged board: a case's latest notes, and which note corrects which

Revision ID: 0013_board_pages
Revises: 0012_step_up_and_deadlines
Create Date: 2026-12-01 09:00:00.000000

``GET /api/v1/cases/{id}`` returns the latest notes and a cursor for earlier ones
(telemed/cases/service.py). ``ix_notes_case_seq`` reads a page of a case's notes by seq
without sorting all of them; ``ix_notes_supersedes`` finds the corrections of the notes on
a page, which may be on a later page.
"""

from __future__ import annotations

from alembic import op

revision = "0013_board_pages"
down_revision = "0012_step_up_and_deadlines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notes_case_seq", "notes", ["case_id", "seq"], unique=True)
    op.create_index("ix_notes_supersedes", "notes", ["supersedes_id"])


def downgrade() -> None:
    op.drop_index("ix_notes_supersedes", "notes")
    op.drop_index("ix_notes_case_seq", "notes")
