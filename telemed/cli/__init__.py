"""The ``telemed`` command: parses arguments and calls the application or a service.

Each module adds its own commands: ``server`` (serve, db upgrade, demo, janus-config),
``accounts`` (user, council) and ``records`` (audit, backup, restore).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from telemed.cli import accounts, records, server
from telemed.db.migrations import DatabaseNotMigrated
from telemed.errors import DomainError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telemed",
        description="Telemed remote consultation server. Settings also come from "
        "TELEMED_* environment variables; flags win.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (server, accounts, records):
        module.register(commands)
    return parser


# What Telemed writes (the SQLite database, attachments, recordings, keys) is patient data
# or a secret: new directories 0700 and files 0600, whatever the shell's umask was.
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except DatabaseNotMigrated as error:
        print(f"telemed: {error}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"telemed: {error.message}", file=sys.stderr)
        return 1
    return result
