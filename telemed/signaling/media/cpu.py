"""How busy this process is: the share of one core it used recently.

Recording reads it to decide whether it can afford to keep encoding video. psutil is not
a dependency; ``time.process_time`` counts every thread of the process (the encoder
threads included), which is what matters here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class CpuGauge(Protocol):
    def share(self) -> float:
        """CPU time used per wall-clock second lately (1.0 is one core fully busy)."""
        ...


class ProcessCpuGauge:
    """The share since the previous reading; readings closer together than ``min_window``
    repeat the last figure, so that several readers do not shrink the window to noise."""

    def __init__(
        self,
        min_window: float = 0.5,
        *,
        cpu_time: Callable[[], float] = time.process_time,
        wall_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_window = min_window
        self._cpu_time, self._wall_time = cpu_time, wall_time
        self._cpu = cpu_time()
        self._wall = wall_time()
        self._last = 0.0

    def share(self) -> float:
        cpu, wall = self._cpu_time(), self._wall_time()
        elapsed = wall - self._wall
        if elapsed < self._min_window:
            return self._last
        self._last = (cpu - self._cpu) / elapsed
        self._cpu, self._wall = cpu, wall
        return self._last
