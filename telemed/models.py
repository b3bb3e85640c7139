"""Every storage model, imported once so that the metadata (and Alembic) sees them all."""

from telemed.accounts import models as accounts_models
from telemed.audit import models as audit_models
from telemed.cases import models as cases_models
from telemed.cases.search_index import TABLE as SEARCH_TABLE
from telemed.db.base import Base
from telemed.guests import models as guests_models
from telemed.notifications import models as notifications_models

metadata = Base.metadata


def is_unmapped(table_name: str) -> bool:
    """A table the migrations own but no model describes: the case search index, shaped
    per backend (on SQLite with FTS5's own tables beside it, ``case_search_data``...)."""
    return table_name == SEARCH_TABLE or table_name.startswith(f"{SEARCH_TABLE}_")


__all__ = [
    "accounts_models",
    "audit_models",
    "cases_models",
    "guests_models",
    "is_unmapped",
    "metadata",
    "notifications_models",
]
