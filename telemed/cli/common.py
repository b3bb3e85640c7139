"""What every command shares: settings from flags, the operator, database flags."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, TypeAlias

from telemed.accounts.principal import Actor
from telemed.audit.service import local_operator
from telemed.settings import Settings

# The sub-command table of ``telemed``, which each module of this package adds to.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[argparse.Namespace], int]


def settings_of(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "database_url", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def operator() -> Actor:
    """Who the audit trail names for commands run here: the login name of the shell."""
    return local_operator(os.environ.get("USER") or "cli")


def database_command(parser: argparse.ArgumentParser, handler: Handler) -> None:
    """The command runs ``handler``, on the database the flags (or settings) name."""
    parser.set_defaults(handler=handler)
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")
    parser.add_argument("--data-dir", help="where files and the embedded database live")
