"""Running the server: serve, db upgrade, demo, janus-config."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
from pathlib import Path

from aiohttp import web

from telemed import appkeys
from telemed.accounts.demo import DEMO_PASSWORD
from telemed.app import create_app
from telemed.cases.demo_cases import CASES as DEMO_CASES
from telemed.cli.common import Commands, database_command, operator, settings_of
from telemed.db.engine import create_engine
from telemed.db.migrations import upgrade
from telemed.demo import load_demo
from telemed.logs import configure_logging
from telemed.ops.protocol import ProtocolLog
from telemed.settings import Settings
from telemed.signaling.janus.config import JanusConfig
from telemed.signaling.janus.config import write as write_janus_config

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
    settings = settings_of(args)
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
    settings = settings_of(args)

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
    settings = settings_of(args)
    result = asyncio.run(load_demo(settings, operator(), accounts_only=args.accounts_only))
    print("The demo network is ready. Accounts: " + ", ".join(result.usernames))
    print(f"Every demo account signs in with the password: {DEMO_PASSWORD}")
    if result.cases_made is not None:
        made, total = result.cases_made, len(DEMO_CASES)
        print(f"Demo cases created now: {made} of {total} (the others were there).")
    return 0


def cmd_janus_config(args: argparse.Namespace) -> int:
    settings = settings_of(args)
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


def register(commands: Commands) -> None:
    """Adds this module's commands to the ``telemed`` parser."""
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    database_command(serve, cmd_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db_upgrade = db.add_parser("upgrade", help="migrate the database to the newest schema")
    database_command(db_upgrade, cmd_db_upgrade)

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
    database_command(demo, cmd_demo)

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
