"""Structured logs: one JSON object per line, each tagged with the current request id.

Log records carry identifiers (request id, route, user id, case id), never patient fields:
no clinical text, patient codes or note bodies are passed to a logger anywhere in Telemed.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    fmt = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
    handler.setFormatter(JsonFormatter(fmt) if json else logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
