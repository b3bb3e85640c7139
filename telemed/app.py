"""The application factory: the one place where Telemed is wired together."""

from __future__ import annotations

import asyncio
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
from telemed.accounts.organisations import OrganisationService
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.service import AccountService
from telemed.accounts.throttle import LoginThrottle, ThrottlePolicy
from telemed.audit import views as audit_views
from telemed.audit.checkpoints import CheckpointSigner
from telemed.audit.log import AuditLog
from telemed.audit.service import AuditService
from telemed.audit.work import AuditedWork
from telemed.cases import attachment_views, export_views
from telemed.cases import views as case_views
from telemed.cases.attachments import AttachmentService
from telemed.cases.blobs import BlobStore
from telemed.cases.decisions import DecisionService
from telemed.cases.minutes import MinutesRenderer, MinutesService
from telemed.cases.minutes_pdf import MinutesPrinter
from telemed.cases.pdf import PdfPool
from telemed.cases.pdf_cache import PdfCache
from telemed.cases.seals import SealCheck
from telemed.cases.service import CaseService
from telemed.clock import Clock, SystemClock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import ensure_migrated
from telemed.http import openapi
from telemed.http.compression import compress_static
from telemed.http.errors import error_middleware
from telemed.http.security import add_security_headers
from telemed.i18n import Catalogs, language_var
from telemed.i18n import install as install_i18n
from telemed.ops import readiness
from telemed.ops import views as ops_views
from telemed.ops.metrics import Metrics
from telemed.ops.readiness import Readiness
from telemed.pages import views as page_views
from telemed.pages.modules import install as install_modules
from telemed.realtime.call_wiring import calls as live_calls
from telemed.realtime.connections import Connections
from telemed.realtime.namespace import CaseRoomNamespace
from telemed.realtime.server import create_socketio_server, open_case_rooms, open_connections
from telemed.realtime.sink import RelaySink
from telemed.realtime.wiring import live_rooms
from telemed.settings import Settings
from telemed.signaling import guest_views
from telemed.signaling.cpu import ProcessCpuGauge
from telemed.signaling.guests import GuestService, GuestSessions
from telemed.signaling.peers import PeerRegistry
from telemed.signaling.recordings import RecordingPolicy, Recordings
from telemed.signaling.service import SignalingService, server_configuration
from telemed.signaling.turn import IceConfig, IceServers
from telemed.stats import views as stats_views
from telemed.stats.service import Directory, StatsService

log = logging.getLogger(__name__)

# Browser libraries installed from the npm registry into web/node_modules, served as-is.
VENDOR_DIRS = {"socket.io": "socket.io-client/dist"}


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application(
        middlewares=[
            ops_views.request_middleware,
            _language_middleware,
            error_middleware,
            compress_static,
        ],
        client_max_size=1024**2,
    )
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock or SystemClock()
    app[appkeys.METRICS] = Metrics()
    app[appkeys.CASE_EVENT_SINK] = RelaySink()
    app[appkeys.SOCKET_CONNECTIONS] = Connections()
    # Before the database: the minutes service built there prints through the pool.
    app.cleanup_ctx.append(_pdf_pool)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_operations)

    sio = create_socketio_server(settings, app[appkeys.METRICS].refused_frame)
    sio.attach(app)
    sio.register_namespace(CaseRoomNamespace(app, app[appkeys.SOCKET_CONNECTIONS]))
    app[appkeys.SOCKETIO] = sio
    app[appkeys.METRICS].watch_socketio(lambda: open_connections(sio), lambda: open_case_rooms(sio))
    # Live rooms stop after Socket.IO has closed every connection (their cleanup runs).
    app.cleanup_ctx.append(live_rooms)
    app.cleanup_ctx.append(_socketio)
    # Closed first at shutdown: recordings are finished while the database is still open.
    app.cleanup_ctx.append(_signaling)
    app.cleanup_ctx.append(live_calls)

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
    attachment_views.add_routes(app)
    stats_views.add_routes(app)
    guest_views.add_routes(app)
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


async def _operations(app: web.Application) -> AsyncIterator[None]:
    """Readiness checks and the samplers behind the operator's metrics."""
    settings, metrics = app[appkeys.SETTINGS], app[appkeys.METRICS]
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    app[appkeys.READINESS] = Readiness(
        app[appkeys.ENGINE], redis, settings.data_dir, settings.ready_min_free_bytes
    )
    try:
        async with readiness.running(
            partial(readiness.sample_loop_lag, metrics.loop_lag, metrics.loop_lag_histogram),
            partial(readiness.sample_audit_head, app[appkeys.SESSIONMAKER], metrics.audit_head),
        ):
            yield
    finally:
        if redis is not None:
            await redis.aclose()


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
    audit_log = AuditLog(clock)
    work = AuditedWork(sessionmaker, audit_log)
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
    sink = app[appkeys.CASE_EVENT_SINK]
    app[appkeys.CASE_SERVICE] = CaseService(work, clock, sink)
    app[appkeys.ATTACHMENT_SERVICE] = AttachmentService(
        work,
        sessionmaker,
        app[appkeys.CASE_SERVICE],
        BlobStore(settings.data_dir / "blobs"),
        clock,
        sink,
        settings.max_upload_bytes,
    )
    app[appkeys.DECISION_SERVICE] = DecisionService(work, clock, sink)
    app[appkeys.GUEST_SERVICE] = GuestService(work, clock, sink, settings.guest_session_lifetime)
    renderer = MinutesRenderer(aiohttp_jinja2.get_env(app), app[appkeys.CATALOGS])
    pdf_cache = PdfCache(settings.data_dir / "minutes-pdf", settings.pdf_cache_bytes)
    await asyncio.to_thread(pdf_cache.reset)
    printer = MinutesPrinter(
        renderer,
        app[appkeys.PDF_POOL],
        pdf_cache,
        settings.web_dir / "static",
        settings.pdf_max_discussion_chars,
        app[appkeys.METRICS],
    )
    app[appkeys.MINUTES_SERVICE] = MinutesService(work, clock, renderer, printer)
    app[appkeys.STATS_SERVICE] = StatsService(work, clock)
    app[appkeys.DIRECTORY] = Directory(sessionmaker)
    yield
    await engine.dispose()


async def _pdf_pool(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    pool = PdfPool(settings.pdf_workers, settings.pdf_max_waiting, settings.pdf_timeout_seconds)
    app[appkeys.PDF_POOL] = pool
    app[appkeys.METRICS].watch_pdf(lambda: pool.running, lambda: pool.waiting)
    yield
    await pool.close()


async def _socketio(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[appkeys.SOCKETIO].shutdown()


async def _signaling(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    ice = IceServers(
        IceConfig(
            tuple(settings.stun_urls),
            tuple(settings.turn_urls),
            settings.turn_secret,
            settings.turn_credential_ttl,
        ),
        app[appkeys.CLOCK],
    )
    ice.log_configuration()
    registry = PeerRegistry()
    recordings = Recordings(
        registry,
        app[appkeys.CLOCK],
        RecordingPolicy(
            settings.data_dir / "recordings",
            settings.recording_max_seconds,
            settings.recording_cpu_threshold,
        ),
        configuration=lambda: server_configuration(ice),
        gauge=ProcessCpuGauge(),
    )
    service = SignalingService(ice, recordings)
    app[appkeys.PEER_REGISTRY] = registry
    app[appkeys.SIGNALING_SERVICE] = service
    yield
    await service.shutdown()


def _add_static(app: web.Application, settings: Settings) -> None:
    app.router.add_static("/static/", settings.web_dir / "static", name="static")
    modules = settings.web_dir / "node_modules"
    for name, relative in VENDOR_DIRS.items():
        path = modules / relative
        if path.is_dir():
            app.router.add_static(f"/vendor/{name}/", path)
        else:
            log.warning("browser library %s is not installed: run `npm ci` in web/", name)
