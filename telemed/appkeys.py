"""Every object the application shares, under a typed key. No string keys, no globals."""

from __future__ import annotations

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from telemed.accounts.auth import AuthService
from telemed.accounts.directory import Directory
from telemed.accounts.organisations import OrganisationService
from telemed.accounts.service import AccountService
from telemed.audit.log import AuditLog
from telemed.audit.service import AuditService
from telemed.audit.work import AuditedWork
from telemed.cases.attachments import AttachmentService
from telemed.cases.deadlines import DeadlineService
from telemed.cases.decisions import DecisionService
from telemed.cases.identity import IdentityService
from telemed.cases.log import CaseLog
from telemed.cases.minutes import MinutesService
from telemed.cases.pdf import PdfPool
from telemed.cases.service import CaseService
from telemed.cases.signing_keys import CouncilSigners
from telemed.clock import Clock
from telemed.guests.service import GuestService
from telemed.i18n import Catalogs
from telemed.notifications.service import NotificationService
from telemed.ops.metrics import Metrics
from telemed.ops.readiness import Readiness
from telemed.realtime.connections import Connections
from telemed.realtime.rooms import RoomService
from telemed.scheduler import Scheduler
from telemed.settings import Settings
from telemed.signaling.lifetime import CallParts
from telemed.stats.service import StatsService

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
METRICS = web.AppKey("metrics", Metrics)
SOCKETIO = web.AppKey("socketio", socketio.AsyncServer)
# The paths whose websocket upgrades bypass the inner middlewares (telemed/http/long_lived.py).
LONG_LIVED_ROUTES = web.AppKey("long_lived_routes", frozenset[str])
AUTH_SERVICE = web.AppKey("auth_service", AuthService)
ACCOUNT_SERVICE = web.AppKey("account_service", AccountService)
ORGANISATION_SERVICE = web.AppKey("organisation_service", OrganisationService)
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
AUDITED_WORK = web.AppKey("audited_work", AuditedWork)
AUDIT_SERVICE = web.AppKey("audit_service", AuditService)
CASE_LOG = web.AppKey("case_log", CaseLog)
CASE_SERVICE = web.AppKey("case_service", CaseService)
IDENTITY_SERVICE = web.AppKey("identity_service", IdentityService)
DECISION_SERVICE = web.AppKey("decision_service", DecisionService)
ATTACHMENT_SERVICE = web.AppKey("attachment_service", AttachmentService)
CATALOGS = web.AppKey("catalogs", Catalogs)
MINUTES_SERVICE = web.AppKey("minutes_service", MinutesService)
PDF_POOL = web.AppKey("pdf_pool", PdfPool)
DEADLINE_SERVICE = web.AppKey("deadline_service", DeadlineService)
PDF_SIGNERS = web.AppKey("pdf_signers", CouncilSigners)
SOCKET_CONNECTIONS = web.AppKey("socket_connections", Connections)
ROOM_SERVICE = web.AppKey("room_service", RoomService)
STATS_SERVICE = web.AppKey("stats_service", StatsService)
DIRECTORY = web.AppKey("directory", Directory)
# The call of case rooms: its services, ICE servers and the server's media.
CALLS = web.AppKey("calls", CallParts)
GUEST_SERVICE = web.AppKey("guest_service", GuestService)
READINESS = web.AppKey("readiness", Readiness)
NOTIFICATION_SERVICE = web.AppKey("notification_service", NotificationService)
SCHEDULER = web.AppKey("scheduler", Scheduler)
