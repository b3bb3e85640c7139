"""The ``telemed`` command: parses arguments and calls the application or a service."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from telemed.accounts.demo import DEMO_PASSWORD, seed_demo_network
from telemed.accounts.models import CouncilRole, UserRole
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.service import AccountService, NewUser
from telemed.app import create_app
from telemed.clock import SystemClock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import DatabaseNotMigrated, ensure_migrated, upgrade
from telemed.errors import DomainError
from telemed.logs import configure_logging
from telemed.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "database_url", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


async def _with_accounts(
    settings: Settings, action: Callable[[AccountService], Awaitable[None]]
) -> None:
    engine = create_engine(settings.effective_database_url)
    try:
        await ensure_migrated(engine)
        await action(AccountService(create_sessionmaker(engine), SystemClock(), PasswordHasher()))
    finally:
        await engine.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, json=settings.log_json)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=lambda _: print(f"Telemed is listening on http://{settings.host}:{settings.port}/"),
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print("The database is up to date.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    names: list[str] = []

    async def seed(accounts: AccountService) -> None:
        names.extend(await seed_demo_network(accounts))

    asyncio.run(_with_accounts(settings, seed))
    print("The demo network is ready. Accounts: " + ", ".join(names))
    print(f"Every demo account signs in with the password: {DEMO_PASSWORD}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise SystemExit("The passwords differ.")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    new = NewUser(
        args.username, args.full_name, UserRole(args.role), _read_password(args), args.facility
    )

    async def add(accounts: AccountService) -> None:
        await accounts.add_user(new)
        if args.council:
            await accounts.set_membership(
                args.username, args.council, CouncilRole(args.council_role), args.specialty
            )

    asyncio.run(_with_accounts(settings, add))
    print(f"User {args.username} added.")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def disable(accounts: AccountService) -> None:
        await accounts.disable_user(args.username)

    asyncio.run(_with_accounts(settings, disable))
    print(f"User {args.username} is disabled and signed out everywhere.")
    return 0


def cmd_council_set_member(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def set_member(accounts: AccountService) -> None:
        await accounts.set_membership(
            args.username, args.council, CouncilRole(args.council_role), args.specialty
        )

    asyncio.run(_with_accounts(settings, set_member))
    print(f"{args.username} sits on {args.council} as {args.council_role}.")
    return 0


def cmd_council_remove_member(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def remove(accounts: AccountService) -> None:
        await accounts.remove_membership(args.username, args.council)

    asyncio.run(_with_accounts(settings, remove))
    print(f"{args.username} no longer sits on {args.council}.")
    return 0


def _database_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")
    parser.add_argument("--data-dir", help="where files and the embedded database live")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telemed",
        description="Telemed remote consultation server. Settings also come from "
        "TELEMED_* environment variables; flags win.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    _database_flags(serve)
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db_upgrade = db.add_parser("upgrade", help="migrate the database to the newest schema")
    _database_flags(db_upgrade)
    db_upgrade.set_defaults(handler=cmd_db_upgrade)

    demo = commands.add_parser("demo", help="create the demo network (idempotent)")
    _database_flags(demo)
    demo.set_defaults(handler=cmd_demo)

    user = commands.add_parser("user", help="user accounts").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_add = user.add_parser("add", help="add a user (the password is asked for)")
    user_add.add_argument("username")
    user_add.add_argument("--full-name", required=True)
    user_add.add_argument("--role", required=True, choices=[r.value for r in UserRole])
    user_add.add_argument("--facility", help="facility code")
    user_add.add_argument("--council", help="council code to seat the user on")
    user_add.add_argument(
        "--council-role", default="member", choices=[r.value for r in CouncilRole]
    )
    user_add.add_argument("--specialty", default="")
    user_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _database_flags(user_add)
    user_add.set_defaults(handler=cmd_user_add)

    user_disable = user.add_parser("disable", help="disable a user and end their sessions")
    user_disable.add_argument("username")
    _database_flags(user_disable)
    user_disable.set_defaults(handler=cmd_user_disable)

    council = commands.add_parser("council", help="council membership").add_subparsers(
        dest="council_command", required=True, metavar="ACTION"
    )
    set_member = council.add_parser("set-member", help="seat a user on a council")
    set_member.add_argument("username")
    set_member.add_argument("council")
    set_member.add_argument(
        "--council-role", default="member", choices=[r.value for r in CouncilRole]
    )
    set_member.add_argument("--specialty", default="")
    _database_flags(set_member)
    set_member.set_defaults(handler=cmd_council_set_member)

    remove_member = council.add_parser("remove-member", help="remove a user from a council")
    remove_member.add_argument("username")
    remove_member.add_argument("council")
    _database_flags(remove_member)
    remove_member.set_defaults(handler=cmd_council_remove_member)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
