"""Jobs the tests hand to the server's real PDF pool, to hold a worker for as long as needed.

They run in the pool's worker processes, so they live in a module that imports nothing of
the server.
"""

from __future__ import annotations

import time
from pathlib import Path


def hold_until(release: Path) -> str:
    """Keep the worker busy until ``release`` exists (a minute at most)."""
    deadline = time.monotonic() + 60
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "released"
