"""Laying out PDFs in worker processes, so that the server never waits on WeasyPrint.

WeasyPrint lays out pages in pure Python: in a thread of the server it shared the GIL
with the event loop, and one large minutes (124 s to lay out) slowed every request. Here
each layout runs in a separate process started with 'spawn' (a fresh interpreter that
imports this module and WeasyPrint, none of the server), within three bounds:

- at most ``workers`` layouts at a time, one per worker process;
- at most ``max_waiting`` requests wait for a worker; one more is refused at once with
  ``ServiceUnavailable`` (503 and Retry-After);
- a layout running past ``timeout`` seconds has its worker killed and replaced; the
  request gets ``TimedOut`` (504).

Each worker is a ProcessPoolExecutor of one process, so that killing a stuck layout
leaves the layouts running in the other workers alone. A new worker starts on first use
and loads WeasyPrint and the fonts before its first layout, outside that layout's time.

This module imports nothing of the server: a worker process imports it to find
``render_pdf``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from telemed.cases.pdf_seal import Seal, seal_pdf
from telemed.errors import ServiceUnavailable, TimedOut

T = TypeVar("T")
R = TypeVar("R")

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
RETRY_AFTER_SECONDS = 10
# Starting a worker and loading pango and the fonts, on a loaded machine.
WARM_UP_SECONDS = 120.0


@dataclass(frozen=True)
class PdfJob:
    """What a worker needs to print one HTML document: no server object crosses over."""

    html: str
    # The stylesheets' directory: relative URLs resolve against it.
    base_dir: Path
    # The only directories the layout may read (stylesheets, fonts); never the network.
    readable: tuple[Path, ...]
    # Minutes of a signed decision: who signs the PDF once it is laid out.
    seal: Seal | None = None


def render_pdf(job: PdfJob) -> bytes:
    """Runs in a worker process."""
    import weasyprint

    html = weasyprint.HTML(
        string=job.html,
        base_url=job.base_dir.as_uri() + "/",
        url_fetcher=local_files_only(*job.readable),
    )
    pdf: bytes = html.write_pdf()
    return seal_pdf(pdf, job.seal) if job.seal is not None else pdf


def warm_up(_: None) -> None:
    """Runs in a new worker process: pango, fontconfig and WeasyPrint load here, once."""
    import weasyprint

    weasyprint.HTML(string="<p>Telemed</p>").write_pdf()


def local_files_only(*roots: Path) -> Any:
    """A WeasyPrint URL fetcher that reads files under ``roots`` and never the network."""
    from weasyprint.urls import URLFetcher

    # normpath, not resolve: ".." cannot climb out, and font symlinks stay usable.
    allowed = [Path(os.path.normpath(root)) for root in roots]

    def check(url: str) -> None:
        parts = urlsplit(url)
        path = Path(os.path.normpath(unquote(parts.path)))
        if parts.scheme != "file" or not any(path.is_relative_to(r) for r in allowed):
            raise ValueError("the minutes load local stylesheets and fonts only")

    class LocalFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            check(url)
            return super().fetch(url, headers)

    return LocalFetcher(allowed_protocols=["file"])


class _Worker:
    """One worker process, replaced whole when it has to be stopped."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self.executor = ProcessPoolExecutor(max_workers=1, mp_context=context)
        self.warm = False
        self.dead = False

    def kill(self) -> None:
        # A ProcessPoolExecutor cannot stop a call that has started (Python 3.14 adds
        # kill_workers); its process table is the one handle on the worker.
        for process in list((self.executor._processes or {}).values()):
            process.kill()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.dead = True


class PdfPool:
    def __init__(self, workers: int, max_waiting: int, timeout: float) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._max_waiting = max_waiting
        self._timeout = timeout
        self._slots = asyncio.Semaphore(workers)
        self._idle = [_Worker(self._context) for _ in range(workers)]
        self._busy: set[_Worker] = set()
        self.waiting = 0

    @property
    def running(self) -> int:
        return len(self._busy)

    async def run(self, function: Callable[[T], R], job: T) -> R:
        """``function(job)`` in a worker process, within the pool's bounds."""
        if self._slots.locked() and self.waiting >= self._max_waiting:
            raise ServiceUnavailable(
                RETRY_AFTER_SECONDS,
                "Too many PDFs are being prepared. Try again in a few seconds.",
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        worker = self._idle.pop()
        self._busy.add(worker)
        try:
            if not worker.warm:
                try:
                    await self._call(worker, warm_up, None, WARM_UP_SECONDS)
                except TimedOut:  # the machine, not this document: worth another try
                    raise ServiceUnavailable(
                        RETRY_AFTER_SECONDS, "The PDF service is starting. Try again shortly."
                    ) from None
                worker.warm = True
            return await self._call(worker, function, job, self._timeout)
        finally:
            self._busy.discard(worker)
            self._idle.append(_Worker(self._context) if worker.dead else worker)
            self._slots.release()

    async def _call(self, worker: _Worker, function: Callable[[T], R], job: T, seconds: float) -> R:
        future = worker.executor.submit(function, job)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), seconds)
        except TimeoutError:
            worker.kill()
            raise TimedOut(
                f"The PDF took longer than {seconds:g} s to prepare and was stopped. "
                "The minutes on screen hold the same content and can be printed."
            ) from None
        except BrokenProcessPool:
            # The process died under the call (killed from outside, out of memory).
            worker.kill()
            raise ServiceUnavailable(
                RETRY_AFTER_SECONDS, "The PDF could not be prepared. Try again shortly."
            ) from None
        except asyncio.CancelledError:
            if not future.done():
                worker.kill()
            raise

    async def close(self) -> None:
        """Stop every worker: running layouts are killed, idle workers exit."""
        for worker in self._busy:
            worker.kill()
        executors = [w.executor for w in [*self._idle, *self._busy]]

        def shutdown() -> None:
            for executor in executors:
                executor.shutdown(wait=True)

        await asyncio.to_thread(shutdown)
