"""aiohttp's log of requests it could not even parse.

aiohttp logs every request line or header it cannot parse with a full traceback (and
the offending bytes), at ERROR: any client can flood the log that way. A request that is
not HTTP is the client's fault, answered 400 by aiohttp itself: here it is one warning
line naming the kind of error, and a count in /metrics. Everything else aiohttp's server
logs keeps its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

from telemed.ops.metrics import Metrics


class ProtocolLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The ``logger`` of aiohttp's request handler (``web.run_app(..., logger=...)``)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(logging.getLogger("aiohttp.server"))
        self._metrics = metrics

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            self._metrics.malformed_requests.inc()
            self.warning("refused a malformed HTTP request (%s)", type(error).__name__)
            return
        super().exception(msg, *args, **kwargs)
