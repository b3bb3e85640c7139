"""The ``telemed`` command: parses arguments and calls the application or a service."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from telemed import appkeys
from telemed.accounts.demo import DEMO_PASSWORD
from telemed.accounts.models import CouncilRole, UserRole
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.principal import Actor
from telemed.accounts.service import AccountService, NewUser, Seat
from telemed.app import create_app
from telemed.audit.checkpoints import CheckpointSigner
from telemed.audit.log import AuditLog
from telemed.audit.schemas import VerifyInput
from telemed.audit.service import AuditService, local_operator
from telemed.audit.work import AuditedWork
from telemed.cases.demo_cases import CASES as DEMO_CASES
from telemed.cases.seals import SealCheck
from telemed.clock import SystemClock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import DatabaseNotMigrated, ensure_migrated, upgrade
from telemed.demo import load_demo
from telemed.errors import DomainError
from telemed.logs import configure_logging
from telemed.ops.archive import DamagedArchive
from telemed.ops.backup import Backups, RestoreRefused, prune
from telemed.ops.protocol import ProtocolLog
from telemed.settings import Settings
from telemed.signaling.janus.config import JanusConfig
from telemed.signaling.janus.config import write as write_janus_config


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "database_url", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _operator() -> Actor:
    """Who the audit trail names for commands run here: the login name of the shell."""
    return local_operator(os.environ.get("USER") or "cli")


async def _with_accounts(
    settings: Settings, action: Callable[[AccountService], Awaitable[None]]
) -> None:
    engine = create_engine(settings.effective_database_url)
    try:
        await ensure_migrated(engine)
        sessionmaker, clock = create_sessionmaker(engine), SystemClock()
        work = AuditedWork(sessionmaker, AuditLog(clock))
        await action(AccountService(sessionmaker, clock, PasswordHasher(), work))
    finally:
        await engine.dispose()


async def _with_audit(
    settings: Settings, action: Callable[[AuditService], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    engine = create_engine(settings.effective_database_url)
    try:
        await ensure_migrated(engine)
        sessionmaker, clock = create_sessionmaker(engine), SystemClock()
        work = AuditedWork(sessionmaker, AuditLog(clock))
        signer = CheckpointSigner.load_or_create(settings.data_dir)
        records = (SealCheck(sessionmaker),)
        return await action(AuditService(sessionmaker, work, signer, clock, records=records))
    finally:
        await engine.dispose()


_ADDRESS_PROBLEMS = {
    errno.EADDRINUSE: "is already in use (is Telemed already running?)",
    errno.EACCES: "may not be used by this user",
    errno.EADDRNOTAVAIL: "is not an address of this machine",
}


def _address_refused(settings: Settings, error: OSError) -> int:
    """One line on why the server cannot listen, instead of a traceback; its exit code."""
    if error.errno not in _ADDRESS_PROBLEMS:
        raise error
    print(
        f"telemed: {settings.host}:{settings.port} {_ADDRESS_PROBLEMS[error.errno]}; stop the "
        "other server or choose another address with --host / --port.",
        file=sys.stderr,
    )
    return 1


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        # Checked before start-up (migrations, worker processes) so that the answer is quick.
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        socket.create_server((settings.host, settings.port), family=family).close()
    except OSError as error:
        return _address_refused(settings, error)
    app = create_app(settings)
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            access_log=None,
            logger=ProtocolLog(app[appkeys.METRICS]),
            print=lambda _: print(
                f"Telemed is listening on http://{settings.host}:{settings.port}/"
            ),
        )
    except OSError as error:  # taken between the check and the start
        return _address_refused(settings, error)
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
    result = asyncio.run(load_demo(settings, _operator(), accounts_only=args.accounts_only))
    print("The demo network is ready. Accounts: " + ", ".join(result.usernames))
    print(f"Every demo account signs in with the password: {DEMO_PASSWORD}")
    if result.cases_made is not None:
        made, total = result.cases_made, len(DEMO_CASES)
        print(f"Demo cases created now: {made} of {total} (the others were there).")
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

    async def add(accounts: AccountService) -> None:
        await accounts.add_user(_operator(), new)

    asyncio.run(_with_accounts(settings, add))
    print(f"User {args.username} added.")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def disable(accounts: AccountService) -> None:
        await accounts.disable_user(_operator(), args.username)

    asyncio.run(_with_accounts(settings, disable))
    print(f"User {args.username} is disabled and signed out everywhere.")
    return 0


def cmd_council_set_member(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def set_member(accounts: AccountService) -> None:
        await accounts.set_membership(
            _operator(), args.username, args.council, CouncilRole(args.council_role), args.specialty
        )

    asyncio.run(_with_accounts(settings, set_member))
    print(f"{args.username} sits on {args.council} as {args.council_role}.")
    return 0


def cmd_council_remove_member(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def remove(accounts: AccountService) -> None:
        await accounts.remove_membership(_operator(), args.username, args.council)

    asyncio.run(_with_accounts(settings, remove))
    print(f"{args.username} no longer sits on {args.council}.")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    body = None
    if args.checkpoint:
        try:
            data = json.loads(Path(args.checkpoint).read_text(encoding="utf-8"))
            body = VerifyInput.model_validate({"checkpoint": data})
        except (OSError, ValueError, ValidationError) as error:
            print(f"telemed: {args.checkpoint} is not a checkpoint: {error}", file=sys.stderr)
            return 2
    result = asyncio.run(_with_audit(settings, lambda audit: audit.verify(_operator(), body)))
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["ok"]:
        pinned = body.checkpoint if body else None
        covered = f", and it still holds checkpoint {pinned.seq}" if pinned else ""
        print(f"The audit chain is intact: {result['rows']} rows{covered}.")
    elif result["record"] is not None:
        print(f"The audit chain is intact but a signed record was changed: {result['reason']}")
    elif result["first_bad_seq"] is None:
        print(f"The checkpoint cannot be trusted: {result['reason']}")
    else:
        print(f"The audit chain is broken at seq {result['first_bad_seq']}: {result['reason']}")
    return 0 if result["ok"] else 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    settings = _settings(args)
    checkpoint = asyncio.run(_with_audit(settings, lambda audit: audit.checkpoint(_operator())))
    text = json.dumps(checkpoint, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Checkpoint at seq {checkpoint['seq']} written to {args.output}.")
    else:
        print(text, end="")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    settings = _settings(args)
    stamp = SystemClock().now().strftime("%Y%m%dT%H%M%SZ")
    suffix = ".tar.age" if args.recipient else ".tar"
    output = Path(args.output or Path(args.directory) / f"telemed-backup-{stamp}{suffix}")
    backups = Backups(settings, SystemClock())
    try:
        manifest = asyncio.run(backups.create(output, _operator(), args.recipient or []))
    except (ValueError, RuntimeError, OSError) as error:
        print(f"telemed: backup failed: {error}", file=sys.stderr)
        return 1
    print(
        f"Backup written to {output}: {manifest.database} database, "
        f"{len(manifest.files) - 3} files, audit checkpoint at row {manifest.checkpoint['seq']}."
    )
    if args.directory and args.keep:
        for old in prune(Path(args.directory), args.keep):
            print(f"Removed the older backup {old}.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = _settings(args)
    identity = Path(args.identity) if args.identity else None
    key = Path(args.signing_key) if args.signing_key else None
    backups = Backups(settings, SystemClock())
    try:
        report = asyncio.run(backups.restore(Path(args.archive), _operator(), identity, key))
    except DamagedArchive as error:
        print(f"telemed: the archive is damaged; nothing was restored: {error}", file=sys.stderr)
        return 1
    except RestoreRefused as error:
        print(f"telemed: restore refused: {error}", file=sys.stderr)
        return 1
    print(f"Restored {args.archive}:")
    for line in report.lines():
        print(f"  {line}")
    if key is None:
        print("  The private signing key is not in a backup: copy it into the data directory.")
    return 0


def cmd_janus_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    low, _, high = args.rtp_ports.partition("-")
    try:
        config = JanusConfig(
            http_ip=args.http_ip,
            http_port=args.http_port,
            api_secret=settings.janus_api_secret,
            admin_key=settings.janus_admin_key,
            rtp_ports=(int(low), int(high)),
            event_loops=args.event_loops,
            ice_interfaces=tuple(args.ice_interface or ()),
            nat_1_1=args.nat_1_1 or "",
        )
    except ValueError as error:
        print(f"telemed: {error}", file=sys.stderr)
        return 2
    for path in write_janus_config(config, Path(args.output)):
        print(f"wrote {path}")
    if not settings.janus_api_secret or not settings.janus_admin_key:
        print(
            "telemed: TELEMED_JANUS_API_SECRET or TELEMED_JANUS_ADMIN_KEY is empty: "
            "anyone who reaches this Janus may use it.",
            file=sys.stderr,
        )
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

    demo = commands.add_parser(
        "demo",
        help="create the demo network and its cases (idempotent)",
        description="Create the demo network of facilities, councils and accounts (password "
        "telemed-demo) and consultations at every stage, with generated attachments. Running "
        "it again adds nothing.",
    )
    demo.add_argument(
        "--accounts-only",
        action="store_true",
        help="only the facilities, councils and accounts of the product brief, no cases",
    )
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

    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_verify = audit.add_parser(
        "verify",
        help="check the hash chain (exit 0 when intact, 1 when not)",
        description="Walk the whole audit chain and print the first position where it "
        "no longer holds. With --checkpoint, also require that the chain still reaches the "
        "checkpoint with the same hash (catches a rewritten or truncated tail).",
    )
    audit_verify.add_argument("--checkpoint", metavar="FILE", help="a checkpoint JSON file")
    audit_verify.add_argument("--json", action="store_true", help="print the result as JSON")
    _database_flags(audit_verify)
    audit_verify.set_defaults(handler=cmd_audit_verify)

    audit_checkpoint = audit.add_parser(
        "checkpoint",
        help="sign the end of the chain with the server's key",
        description="Write a checkpoint (seq, hash, time, Ed25519 signature). Keep it "
        "off the server: `telemed audit verify --checkpoint FILE` checks the chain against it.",
    )
    audit_checkpoint.add_argument(
        "--output", metavar="FILE", help="write it to FILE (default: print it)"
    )
    _database_flags(audit_checkpoint)
    audit_checkpoint.set_defaults(handler=cmd_audit_checkpoint)

    backup = commands.add_parser(
        "backup",
        help="write one consistent archive while the server runs",
        description="Database snapshot, the attachment files it names, the audit public key "
        "and a signed checkpoint, with a manifest of SHA-256 sums (docs/deployment.md).",
    )
    where = backup.add_mutually_exclusive_group(required=True)
    where.add_argument("--output", metavar="FILE", help="the archive to write")
    where.add_argument("--directory", metavar="DIR", help="write a time-stamped archive here")
    backup.add_argument("--keep", type=int, metavar="N", help="with --directory: keep the N newest")
    backup.add_argument(
        "--recipient", action="append", metavar="AGE_KEY", help="encrypt to this age public key"
    )
    _database_flags(backup)
    backup.set_defaults(handler=cmd_backup)

    restore = commands.add_parser(
        "restore",
        help="restore an archive into an empty data directory or database, then verify it",
    )
    restore.add_argument("archive")
    restore.add_argument("--identity", metavar="FILE", help="age identity of an encrypted archive")
    restore.add_argument(
        "--signing-key", metavar="FILE", help="the audit signing key, kept apart from backups"
    )
    _database_flags(restore)
    restore.set_defaults(handler=cmd_restore)

    janus = commands.add_parser(
        "janus-config",
        help="write a Janus configuration for Telemed (VideoRoom over HTTP only; the API "
        "secret and admin key come from TELEMED_JANUS_API_SECRET, TELEMED_JANUS_ADMIN_KEY)",
    )
    janus.add_argument("--output", required=True, help="folder for the .jcfg files")
    janus.add_argument("--http-ip", default="127.0.0.1", help="private address of Janus's HTTP API")
    janus.add_argument("--http-port", type=int, default=8088)
    janus.add_argument("--rtp-ports", default="20000-40000", help="media ports, LOW-HIGH")
    janus.add_argument("--event-loops", type=int, default=max(1, os.cpu_count() or 1))
    janus.add_argument(
        "--ice-interface", action="append", help="gather ICE candidates only here (repeatable)"
    )
    janus.add_argument("--nat-1-1", help="public address to announce (Janus behind 1:1 NAT)")
    janus.set_defaults(handler=cmd_janus_config)
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


if __name__ == "__main__":
    sys.exit(main())
