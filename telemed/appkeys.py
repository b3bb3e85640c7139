"""Every object the application shares, under a typed key. No string keys, no globals."""

from __future__ import annotations

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from telemed.accounts.auth import AuthService
from telemed.accounts.service import AccountService
from telemed.audit.log import AuditLog
from telemed.audit.work import AuditedWork
from telemed.cases.decisions import DecisionService
from telemed.cases.events import CaseEventSink
from telemed.cases.service import CaseService
from telemed.clock import Clock
from telemed.ops.metrics import Metrics
from telemed.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
METRICS = web.AppKey("metrics", Metrics)
SOCKETIO = web.AppKey("socketio", socketio.AsyncServer)
AUTH_SERVICE = web.AppKey("auth_service", AuthService)
ACCOUNT_SERVICE = web.AppKey("account_service", AccountService)
AUDIT_LOG = web.AppKey("audit_log", AuditLog)
AUDITED_WORK = web.AppKey("audited_work", AuditedWork)
CASE_EVENT_SINK = web.AppKey("case_event_sink", CaseEventSink)
CASE_SERVICE = web.AppKey("case_service", CaseService)
DECISION_SERVICE = web.AppKey("decision_service", DecisionService)
