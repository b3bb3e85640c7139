"""The case search index: one row per case, in the backend's own full-text structure.

SQLite keeps an FTS5 virtual table (rowid = case id), PostgreSQL a table with a
``tsvector`` column under a GIN index (the ``simple`` configuration: no stemming, no stop
words). Both hold the words of ``search_text.document`` (already folded), are written in
the transaction that creates the case, and are matched with every query word as a prefix.
Neither is a mapped model: their shapes differ per backend, and the migration
``0009_case_search`` creates them (``telemed.models.is_unmapped`` keeps Alembic's
comparison off them).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, TextClause, column, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import TextualSelect

from telemed.cases.models import Case
from telemed.cases.search_text import document

# The statements below name it literally.
TABLE = "case_search"


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_statement(postgres: bool) -> TextClause:
    """Index one case: parameters ``case_id`` and ``document``."""
    if postgres:
        return text(
            "INSERT INTO case_search (case_id, document) "
            "VALUES (:case_id, to_tsvector('simple', :document))"
        )
    return text("INSERT INTO case_search (rowid, document) VALUES (:case_id, :document)")


async def index_case(session: AsyncSession, case: Case) -> None:
    """Add the new case's words to the index, in the session's transaction."""
    words = document(case.patient_code, case.title, case.summary)
    await session.execute(
        insert_statement(_is_postgres(session)), {"case_id": case.id, "document": words}
    )


def matching_ids(session: AsyncSession, words: Sequence[str]) -> TextualSelect:
    """The ids of the cases whose index holds every word as the start of one of its words.

    ``words`` come from ``search_text.words``: letters and digits only, so quoting them
    for the backend's query syntax cannot change its meaning.
    """
    assert words, "a search without words matches everything: leave it out"
    assert all(w.isalnum() for w in words), "words must come from search_text.words"
    if _is_postgres(session):
        query = " & ".join(f"'{w}':*" for w in words)
        statement = text(
            "SELECT case_id FROM case_search WHERE document @@ to_tsquery('simple', :query)"
        )
    else:
        query = " ".join(f'"{w}"*' for w in words)
        statement = text("SELECT rowid FROM case_search WHERE case_search MATCH :query")
    return statement.bindparams(query=query).columns(column("case_id", Integer))
