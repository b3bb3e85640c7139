"""The application factory: the one place where Telemed is wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp_jinja2
import jinja2
from aiohttp import web

from telemed import appkeys
from telemed.accounts import views as account_views
from telemed.accounts.auth import AuthService, SessionPolicy, ThrottlePolicy
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.service import AccountService
from telemed.audit.log import AuditLog
from telemed.audit.work import AuditedWork
from telemed.cases import views as case_views
from telemed.cases.decisions import DecisionService
from telemed.cases.events import SilentSink
from telemed.cases.service import CaseService
from telemed.clock import Clock, SystemClock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import ensure_migrated
from telemed.http.errors import error_middleware
from telemed.http.security import add_security_headers
from telemed.ops import views as ops_views
from telemed.ops.metrics import Metrics
from telemed.pages import views as page_views
from telemed.realtime.namespace import ConnectionNamespace
from telemed.realtime.server import create_socketio_server, open_case_rooms, open_connections
from telemed.settings import Settings

log = logging.getLogger(__name__)

# Browser libraries installed from the npm registry into web/node_modules, served as-is.
VENDOR_DIRS = {"socket.io": "socket.io-client/dist"}


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[ops_views.request_middleware, error_middleware],
        client_max_size=1024**2,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock or SystemClock()
    app[appkeys.METRICS] = Metrics()
    app[appkeys.CASE_EVENT_SINK] = SilentSink()
    app.cleanup_ctx.append(_database)

    sio = create_socketio_server(settings)
    sio.attach(app)
    sio.register_namespace(ConnectionNamespace(app))
    app[appkeys.SOCKETIO] = sio
    app[appkeys.METRICS].watch_socketio(lambda: open_connections(sio), lambda: open_case_rooms(sio))
    app.cleanup_ctx.append(_socketio)

    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(settings.web_dir / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.on_response_prepare.append(add_security_headers)

    ops_views.add_routes(app)
    account_views.add_routes(app)
    case_views.add_routes(app)
    page_views.add_routes(app)
    _add_static(app, settings)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    clock = app[appkeys.CLOCK]
    engine = create_engine(settings.effective_database_url)
    try:
        await ensure_migrated(engine)
    except BaseException:
        await engine.dispose()
        raise
    sessionmaker = create_sessionmaker(engine)
    hasher = PasswordHasher()
    app[appkeys.ENGINE] = engine
    app[appkeys.SESSIONMAKER] = sessionmaker
    app[appkeys.AUTH_SERVICE] = AuthService(
        sessionmaker,
        clock,
        hasher,
        SessionPolicy(settings.session_idle_timeout, settings.session_lifetime),
        ThrottlePolicy(
            window=settings.login_window,
            slowdown_after=settings.login_slowdown_after,
            slowdown_seconds=settings.login_slowdown_seconds,
            max_per_account=settings.login_max_failures_per_account,
            max_per_address=settings.login_max_failures_per_address,
        ),
    )
    app[appkeys.ACCOUNT_SERVICE] = AccountService(sessionmaker, clock, hasher)
    audit_log = AuditLog(clock)
    work = AuditedWork(sessionmaker, audit_log)
    sink = app[appkeys.CASE_EVENT_SINK]
    app[appkeys.AUDIT_LOG] = audit_log
    app[appkeys.AUDITED_WORK] = work
    app[appkeys.CASE_SERVICE] = CaseService(work, clock, sink)
    app[appkeys.DECISION_SERVICE] = DecisionService(work, clock, sink)
    yield
    await engine.dispose()


async def _socketio(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[appkeys.SOCKETIO].shutdown()


def _add_static(app: web.Application, settings: Settings) -> None:
    app.router.add_static("/static/", settings.web_dir / "static", name="static")
    modules = settings.web_dir / "node_modules"
    for name, relative in VENDOR_DIRS.items():
        path = modules / relative
        if path.is_dir():
            app.router.add_static(f"/vendor/{name}/", path)
        else:
            log.warning("browser library %s is not installed: run `npm ci` in web/", name)
