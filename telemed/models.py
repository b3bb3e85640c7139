"""Every storage model, imported once so that the metadata (and Alembic) sees them all."""

from telemed.accounts import models as accounts_models
from telemed.audit import models as audit_models
from telemed.cases import models as cases_models
from telemed.db.base import Base
from telemed.guests import models as guests_models

metadata = Base.metadata

__all__ = ["accounts_models", "audit_models", "cases_models", "guests_models", "metadata"]
