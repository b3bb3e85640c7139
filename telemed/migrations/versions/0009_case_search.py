"""the case search index, filled with the existing cases

Revision ID: 0009_case_search
Revises: 0008_guest_revocation
Create Date: 2026-11-30 15:00:00.000000

SQLite: an FTS5 virtual table (rowid = case id). PostgreSQL: a table with a tsvector
column under a GIN index. Both hold the folded words of the patient code, title and
summary (telemed/cases/search_text.py), computed here by the code the application uses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from telemed.cases.search_index import TABLE, insert_statement
from telemed.cases.search_text import document

revision = "0009_case_search"
down_revision = "0008_guest_revocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        op.execute(
            f"CREATE TABLE {TABLE} ("
            "case_id INTEGER PRIMARY KEY REFERENCES cases (id), "
            "document TSVECTOR NOT NULL)"
        )
        op.execute(f"CREATE INDEX ix_{TABLE}_document ON {TABLE} USING GIN (document)")
    else:
        op.execute(f"CREATE VIRTUAL TABLE {TABLE} USING fts5(document, tokenize='unicode61')")
    cases = sa.table(
        "cases",
        sa.column("id", sa.Integer),
        sa.column("patient_code", sa.String),
        sa.column("title", sa.String),
        sa.column("summary", sa.Text),
    )
    rows = connection.execute(
        sa.select(cases.c.id, cases.c.patient_code, cases.c.title, cases.c.summary)
    ).all()
    for case_id, patient_code, title, summary in rows:
        connection.execute(
            insert_statement(postgres),
            {"case_id": case_id, "document": document(patient_code, title, summary)},
        )


def downgrade() -> None:
    op.execute(f"DROP TABLE {TABLE}")
