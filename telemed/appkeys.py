"""Every object the application shares, under a typed key. No string keys, no globals."""

from __future__ import annotations

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from telemed.accounts.auth import AuthService
from telemed.accounts.service import AccountService
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
