"""The application factory: the one place where Telemed is wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from redis.asyncio import Redis

from telemed import appkeys
from telemed.accounts import admin_views
from telemed.accounts import views as account_views
from telemed.accounts.auth import AuthService, SessionPolicy
from telemed.accounts.devices import KnownDevices
from telemed.accounts.directory import Directory
from telemed.accounts.organisations import OrganisationService
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.service import AccountService
from telemed.accounts.throttle import LoginThrottle, ThrottlePolicy
from telemed.audit import views as audit_views
from telemed.audit.checkpoints import CheckpointSigner
from telemed.audit.log import AuditLog
from telemed.audit.service import AuditService
from telemed.audit.work import AuditedWork
from telemed.cases import attachment_views, export_views, identity_views
from telemed.cases import views as case_views
from telemed.cases.attachments import AttachmentService
from telemed.cases.blobs import BlobStore
from telemed.cases.deadlines import DeadlinePolicy, DeadlineService
from telemed.cases.decisions import DecisionService
from telemed.cases.identity import IdentityService
from telemed.cases.identity_cipher import IdentityCipher
from telemed.cases.log import CaseLog
from telemed.cases.minutes import MinutesRenderer, MinutesService
from telemed.cases.minutes_pdf import MinutesPrinter
from telemed.cases.pdf import PdfPool
from telemed.cases.pdf_cache import PdfCache
from telemed.cases.seals import SealCheck
from telemed.cases.service import CaseService
from telemed.cases.signing_keys import CouncilSigners
from telemed.clock import Clock, SystemClock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import ensure_migrated
from telemed.guests import views as guest_views
from telemed.guests.service import GuestService
from telemed.guests.sessions import GuestSessions
from telemed.http import openapi
from telemed.http.compression import compress_static
from telemed.http.errors import error_middleware
from telemed.http.proxy import forwarded_scheme
from telemed.http.security import add_security_headers
from telemed.i18n import Catalogs, language_var
from telemed.i18n import install as install_i18n
from telemed.notifications import views as notification_views
from telemed.notifications.outbox import EmailOutbox, EmailSender, SmtpMailer
from telemed.notifications.reminders import SessionReminders
from telemed.notifications.service import NotificationRecorder, NotificationService, Stored
from telemed.ops import readiness
from telemed.ops import views as ops_views
from telemed.ops.metrics import Metrics
from telemed.ops.readiness import Readiness
from telemed.pages import views as page_views
from telemed.pages.modules import install as install_modules
from telemed.realtime import lifetime as realtime_lifetime
from telemed.realtime.connections import Connections
from telemed.realtime.namespace import CaseRoomNamespace, room_handlers
from telemed.realtime.rooms import RoomService
from telemed.realtime.server import (
    SOCKETIO_ROUTE,
    create_socketio_server,
    open_case_rooms,
    open_connections,
)
from telemed.scheduler import Job, Scheduler
from telemed.settings import Settings
from telemed.signaling import lifetime as signaling_lifetime
from telemed.signaling.handlers import call_handlers
from telemed.signaling.janus.pool import JanusPool
from telemed.stats import views as stats_views
from telemed.stats.service import StatsService

log = logging.getLogger(__name__)

# Browser libraries installed from the npm registry into web/node_modules, served as-is.
VENDOR_DIRS = {"socket.io": "socket.io-client/dist"}


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[
            # Outermost: it sees every request, and sends long-lived websocket upgrades
            # past the others (telemed/http/long_lived.py).
            ops_views.request_middleware,
            forwarded_scheme,
            _language_middleware,
            error_middleware,
            compress_static,
        ],
        client_max_size=1024**2,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock or SystemClock()
    app[appkeys.METRICS] = Metrics()
    sio = create_socketio_server(settings, app[appkeys.METRICS].refused_frame)
    sio.attach(app, socketio_path=SOCKETIO_ROUTE.strip("/"))
    app[appkeys.LONG_LIVED_ROUTES] = frozenset({SOCKETIO_ROUTE})
    app[appkeys.SOCKETIO] = sio
    connections = Connections(sio.disconnect)
    app[appkeys.SOCKET_CONNECTIONS] = connections
    # Every client event, the room's and the call's: delivery imports no feature.
    handlers = {
        **room_handlers(lambda: app[appkeys.ROOM_SERVICE]),
        **call_handlers(lambda: app[appkeys.CALLS]),
    }
    sio.register_namespace(CaseRoomNamespace(app, connections, handlers))
    app[appkeys.METRICS].watch_socketio(lambda: open_connections(sio), lambda: open_case_rooms(sio))
    app.cleanup_ctx.append(_lifetime)

    catalogs = Catalogs.load()
    app[appkeys.CATALOGS] = catalogs
    templates = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(settings.web_dir / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    install_i18n(templates, catalogs)
    install_modules(templates, settings.web_dir / "static" / "js")
    app.on_response_prepare.append(add_security_headers)

    ops_views.add_routes(app)
    account_views.add_routes(app)
    admin_views.add_routes(app)
    case_views.add_routes(app)
    openapi.add_routes(app)
    audit_views.add_routes(app)
    export_views.add_routes(app)
    identity_views.add_routes(app)
    attachment_views.add_routes(app)
    stats_views.add_routes(app)
    guest_views.add_routes(app)
    notification_views.add_routes(app)
    page_views.add_routes(app)
    _add_static(app, settings)
    return app


@web.middleware
async def _language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages (error pages too) speak the request's language: ?lang=, the lang cookie, vi."""
    token = language_var.set(request.app[appkeys.CATALOGS].language_of(request))
    try:
        return await handler(request)
    finally:
        language_var.reset(token)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    """Everything that runs while the server does, built in dependency order and closed in
    the reverse order: what each object needs is passed to it when it is built."""
    settings, clock = app[appkeys.SETTINGS], app[appkeys.CLOCK]
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(_pdf_pool(app))
        await stack.enter_async_context(_database(app))
        janus = await stack.enter_async_context(signaling_lifetime.janus_pool(settings))
        await stack.enter_async_context(_operations(app, janus))
        case_log = app[appkeys.CASE_LOG]
        live = await stack.enter_async_context(
            realtime_lifetime.delivery(settings, app[appkeys.SOCKETIO], app[appkeys.SESSIONMAKER])
        )
        # Sockets close after the call has finished its recordings (the stack unwinds in
        # reverse): their last notices still reach the participants.
        stack.push_async_callback(app[appkeys.SOCKETIO].shutdown)
        notifications = NotificationService(app[appkeys.SESSIONMAKER], clock, live.transport)
        app[appkeys.NOTIFICATION_SERVICE] = notifications
        stack.push_async_callback(notifications.close)
        calls = await stack.enter_async_context(
            signaling_lifetime.calls(
                settings,
                clock,
                case_log=case_log,
                cases=app[appkeys.CASE_SERVICE],
                attachments=app[appkeys.ATTACHMENT_SERVICE],
                auth=app[appkeys.AUTH_SERVICE],
                live=live,
                janus=janus,
            )
        )
        app[appkeys.CALLS] = calls
        app[appkeys.METRICS].open_calls.set_function(calls.service.open_calls)
        app[appkeys.METRICS].forwarded_streams.set_function(calls.sfu.forwarded_streams)
        rooms = RoomService(
            work=app[appkeys.AUDITED_WORK],
            sessionmaker=app[appkeys.SESSIONMAKER],
            auth=app[appkeys.AUTH_SERVICE],
            cases=app[appkeys.CASE_SERVICE],
            feed=live.feed,
            presence=live.presence,
            transport=live.transport,
            process=live.process,
            healed=app[appkeys.METRICS].live_healed,
            listeners=(calls.service,),
        )
        app[appkeys.ROOM_SERVICE] = rooms
        # The listeners of committed case events, in the order they hear them.
        case_log.subscribe(live.sink)
        case_log.subscribe(notifications)
        case_log.subscribe(calls.service)
        await stack.enter_async_context(
            realtime_lifetime.sweeping(settings, rooms, app[appkeys.SOCKET_CONNECTIONS])
        )
        # Periodic jobs, in every process: each makes sure it acts once across processes.
        sessionmaker = app[appkeys.SESSIONMAKER]
        # The deadline check runs after the listeners are subscribed: its events reach the
        # rooms and the notifications.
        jobs: list[Job] = [
            SessionReminders(sessionmaker, notifications, _email(settings, clock)),
            app[appkeys.DEADLINE_SERVICE],
        ]
        if settings.smtp_host:
            mailer = SmtpMailer.from_settings(settings)
            public_url = settings.effective_public_url
            jobs.append(
                EmailSender(sessionmaker, mailer, sender=settings.smtp_from, public_url=public_url)
            )
        scheduler = Scheduler(clock, settings.scheduler_interval_seconds, jobs)
        app[appkeys.SCHEDULER] = scheduler
        await stack.enter_async_context(scheduler.running())
        yield


@contextlib.asynccontextmanager
async def _operations(app: web.Application, janus: JanusPool) -> AsyncIterator[None]:
    """Readiness checks and the samplers behind the operator's metrics."""
    settings, metrics = app[appkeys.SETTINGS], app[appkeys.METRICS]
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    app[appkeys.READINESS] = Readiness(
        app[appkeys.ENGINE],
        redis,
        settings.data_dir,
        settings.ready_min_free_bytes,
        sfu=janus.check if janus else None,
    )
    try:
        async with readiness.running(
            partial(readiness.sample_loop_lag, metrics.loop_lag, metrics.loop_lag_histogram),
            partial(readiness.sample_audit_head, app[appkeys.SESSIONMAKER], metrics.audit_head),
        ):
            yield
    finally:
        await app[appkeys.READINESS].close()
        if redis is not None:
            await redis.aclose()


@contextlib.asynccontextmanager
async def _database(app: web.Application) -> AsyncIterator[None]:
    """The database and every service on it."""
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
    audit_log = AuditLog(clock)
    work = AuditedWork(sessionmaker, audit_log, observe=app[appkeys.METRICS].batch_committed)
    app[appkeys.AUDIT_LOG] = audit_log
    app[appkeys.AUDITED_WORK] = work
    signer = CheckpointSigner.load_or_create(settings.data_dir)
    app[appkeys.AUDIT_SERVICE] = AuditService(
        sessionmaker,
        work,
        signer,
        clock,
        server_name=f"Telemed {socket.gethostname()}",
        records=(SealCheck(sessionmaker),),
    )
    app[appkeys.AUTH_SERVICE] = AuthService(
        sessionmaker,
        clock,
        hasher,
        SessionPolicy(settings.session_idle_timeout, settings.session_lifetime),
        LoginThrottle(
            sessionmaker,
            clock,
            ThrottlePolicy(
                window=settings.login_window,
                slowdown_after=settings.login_slowdown_after,
                slowdown_seconds=settings.login_slowdown_seconds,
                max_per_account=settings.login_max_failures_per_account,
                max_per_address=settings.login_max_failures_per_address,
            ),
        ),
        KnownDevices(
            signer.derive_key("telemed known-device cookie"),
            clock,
            timedelta(seconds=settings.login_known_device_lifetime),
        ),
        work,
        guests=GuestSessions(clock),
    )
    app[appkeys.ACCOUNT_SERVICE] = AccountService(sessionmaker, clock, hasher, work)
    app[appkeys.ORGANISATION_SERVICE] = OrganisationService(sessionmaker, work)
    # Notifications are stored in the transaction of the change that causes them.
    case_log = CaseLog(work, clock, hooks=(NotificationRecorder(_email(settings, clock)),))
    app[appkeys.CASE_LOG] = case_log
    cipher = IdentityCipher.from_settings(settings)
    deadlines = DeadlinePolicy.in_hours(
        settings.deadline_emergency_hours,
        settings.deadline_urgent_hours,
        settings.deadline_routine_hours,
        settings.deadline_near_fraction,
    )
    app[appkeys.CASE_SERVICE] = CaseService(case_log, work, clock, cipher, deadlines)
    app[appkeys.DEADLINE_SERVICE] = DeadlineService(case_log, sessionmaker, clock, deadlines)
    app[appkeys.IDENTITY_SERVICE] = IdentityService(case_log, work, cipher)
    app[appkeys.ATTACHMENT_SERVICE] = AttachmentService(
        case_log,
        work,
        sessionmaker,
        BlobStore(settings.data_dir / "blobs"),
        clock,
        settings.max_upload_bytes,
    )
    app[appkeys.DECISION_SERVICE] = DecisionService(
        case_log, clock, timedelta(minutes=settings.step_up_minutes)
    )
    app[appkeys.GUEST_SERVICE] = GuestService(
        case_log, work, clock, settings.guest_session_lifetime
    )
    renderer = MinutesRenderer(aiohttp_jinja2.get_env(app), app[appkeys.CATALOGS])
    signers = await asyncio.to_thread(
        CouncilSigners.load_or_create,
        settings.data_dir,
        settings.pdf_signing_key,
        settings.pdf_signing_certs,
    )
    app[appkeys.PDF_SIGNERS] = signers
    pdf_cache = PdfCache(settings.data_dir / "minutes-pdf", settings.pdf_cache_bytes)
    await asyncio.to_thread(pdf_cache.reset)
    printer = MinutesPrinter(
        renderer,
        app[appkeys.PDF_POOL],
        pdf_cache,
        settings.web_dir / "static",
        settings.pdf_max_discussion_chars,
        app[appkeys.METRICS],
        signers,
    )
    app[appkeys.MINUTES_SERVICE] = MinutesService(work, clock, renderer, printer, cipher)
    app[appkeys.STATS_SERVICE] = StatsService(work, clock)
    app[appkeys.DIRECTORY] = Directory(sessionmaker)
    try:
        yield
    finally:
        # A batch still open (or a rescue commit still running) holds a connection that
        # dispose() would leave behind unclosed.
        await work.batches.close()
        await engine.dispose()


def _email(settings: Settings, clock: Clock) -> tuple[Stored, ...]:
    """What hears of each stored notification in its transaction: the email outbox, when
    the server sends email."""
    return (EmailOutbox(clock),) if settings.smtp_host else ()


@contextlib.asynccontextmanager
async def _pdf_pool(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    pool = PdfPool(settings.pdf_workers, settings.pdf_max_waiting, settings.pdf_timeout_seconds)
    app[appkeys.PDF_POOL] = pool
    app[appkeys.METRICS].watch_pdf(lambda: pool.running, lambda: pool.waiting)
    try:
        yield
    finally:
        await pool.close()


def _add_static(app: web.Application, settings: Settings) -> None:
    app.router.add_static("/static/", settings.web_dir / "static", name="static")
    modules = settings.web_dir / "node_modules"
    for name, relative in VENDOR_DIRS.items():
        path = modules / relative
        if path.is_dir():
            app.router.add_static(f"/vendor/{name}/", path)
        else:
            log.warning("browser library %s is not installed: run `npm ci` in web/", name)
