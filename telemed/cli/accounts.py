"""Accounts from the shell: user add/disable, council set-member/remove-member."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable

from telemed.accounts.models import CouncilRole, UserRole
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.service import AccountService, NewUser, Seat
from telemed.audit.work import command_database
from telemed.cli.common import Commands, database_command, operator, settings_of
from telemed.settings import Settings

Action = Callable[[AccountService], Awaitable[object]]


def _run(settings: Settings, action: Action, done: str) -> int:
    """Runs one account action as the operator, then says what was done."""

    async def run() -> None:
        async with command_database(settings) as (sessionmaker, clock, work):
            await action(AccountService(sessionmaker, clock, PasswordHasher(), work))

    asyncio.run(run())
    print(done)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise SystemExit("The passwords differ.")
    return first


def cmd_user_add(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    seat = (
        Seat(args.council, CouncilRole(args.council_role), args.specialty) if args.council else None
    )
    new = NewUser(
        args.username,
        args.full_name,
        UserRole(args.role),
        _read_password(args),
        args.facility,
        seat,
    )
    return _run(
        settings,
        lambda accounts: accounts.add_user(operator(), new),
        f"User {args.username} added.",
    )


def cmd_user_disable(args: argparse.Namespace) -> int:
    return _run(
        settings_of(args),
        lambda accounts: accounts.disable_user(operator(), args.username),
        f"User {args.username} is disabled and signed out everywhere.",
    )


def cmd_council_set_member(args: argparse.Namespace) -> int:
    role = CouncilRole(args.council_role)
    return _run(
        settings_of(args),
        lambda accounts: accounts.set_membership(
            operator(), args.username, args.council, role, args.specialty
        ),
        f"{args.username} sits on {args.council} as {args.council_role}.",
    )


def cmd_council_remove_member(args: argparse.Namespace) -> int:
    return _run(
        settings_of(args),
        lambda accounts: accounts.remove_membership(operator(), args.username, args.council),
        f"{args.username} no longer sits on {args.council}.",
    )


def register(commands: Commands) -> None:
    """Adds this module's commands to the ``telemed`` parser."""
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
    database_command(user_add, cmd_user_add)

    user_disable = user.add_parser("disable", help="disable a user and end their sessions")
    user_disable.add_argument("username")
    database_command(user_disable, cmd_user_disable)

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
    database_command(set_member, cmd_council_set_member)

    remove_member = council.add_parser("remove-member", help="remove a user from a council")
    remove_member.add_argument("username")
    remove_member.add_argument("council")
    database_command(remove_member, cmd_council_remove_member)
