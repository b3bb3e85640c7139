"""The minutes as PDF: the discussion bounded, each version laid out once, in worker processes.

A version is what the minutes show: the key is a digest of the minutes' content (all but
the moment of printing) and the language, so any event that changes the minutes (a note,
a signature, an outcome, a renamed member) makes a new PDF, and anything else finds the
one already made. Requests for a version being laid out wait for that one layout, and a
version whose layout ran out of time is refused at once when asked again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from functools import partial
from pathlib import Path
from typing import Protocol

from telemed.cases.pdf import DEJAVU_DIR, PdfJob, PdfPool, render_pdf
from telemed.cases.pdf_cache import PdfCache
from telemed.cases.pdf_seal import Seal
from telemed.cases.signing_keys import CouncilSigners
from telemed.errors import ServiceUnavailable, TimedOut
from telemed.ops.metrics import Metrics
from telemed.shapes import Json

ELLIPSIS = "…"
# Versions whose layout ran out of time, remembered so that asking again fails at once
# instead of holding a worker for the whole timeout again (a new event makes a new version).
REMEMBERED_TIMEOUTS = 256


class MinutesHtml(Protocol):
    def html(self, minutes: Json, lang: str, *, for_pdf: bool = False) -> str: ...


def shorten_discussion(minutes: Json, max_chars: int) -> Json:
    """The minutes with at most ``max_chars`` characters of notes, first notes first.

    The note that crosses the bound is cut (and ends with an ellipsis), the later ones are
    left out, and ``shortened`` says how many notes are shown out of how many.
    """
    notes = minutes["notes"]
    kept: list[Json] = []
    room = max_chars
    for note in notes:
        if len(note["body"]) > room:
            if room > 0:
                kept.append({**note, "body": note["body"][:room] + ELLIPSIS})
            break
        kept.append(note)
        room -= len(note["body"])
    else:
        return minutes
    return {**minutes, "notes": kept, "shortened": {"shown": len(kept), "total": len(notes)}}


def version_key(minutes: Json, lang: str) -> tuple[str, str]:
    """The cache key of these minutes in ``lang``, and the prefix every version shares."""
    content = {k: v for k, v in minutes.items() if k != "generated_at"}
    canonical = json.dumps([lang, content], sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:40]
    prefix = f"case-{minutes['case']['id']}-{lang}-"
    return prefix + digest, prefix


class MinutesPrinter:
    def __init__(
        self,
        renderer: MinutesHtml,
        pool: PdfPool,
        cache: PdfCache,
        static_dir: Path,
        max_discussion_chars: int,
        metrics: Metrics,
        signers: CouncilSigners | None = None,
    ) -> None:
        self._renderer = renderer
        self._pool = pool
        self._cache = cache
        self._static_dir = static_dir.resolve()
        self._max_discussion_chars = max_discussion_chars
        self._metrics = metrics
        self._signers = signers
        self._printing: dict[str, asyncio.Task[bytes]] = {}
        self._too_slow: dict[str, None] = {}  # insertion-ordered: the oldest goes first

    async def pdf(self, minutes: Json, lang: str) -> bytes:
        key, prefix = version_key(minutes, lang)
        # Minutes that name the patient are never kept on disk: the identity is held only
        # sealed at rest (telemed/cases/identity_cipher.py), so they are laid out each time.
        keep = not minutes.get("identity")
        cached = await self._cache.get(key) if keep else None
        if cached is not None:
            self._count("cached")
            return cached
        if key in self._too_slow:
            self._count("timeout")
            raise TimedOut(
                "This version of the minutes took too long to prepare as a PDF before. "
                "The minutes on screen hold the same content and can be printed."
            )
        task = self._printing.get(key)
        if task is None:
            task = asyncio.create_task(self._print(key, prefix, minutes, lang, keep=keep))
            self._printing[key] = task
            task.add_done_callback(partial(self._forget, key))
        else:
            self._count("joined")
        # Shielded: a client that goes away does not waste a layout others may be waiting on.
        return await asyncio.shield(task)

    async def _print(self, key: str, prefix: str, minutes: Json, lang: str, *, keep: bool) -> bytes:
        shortened = shorten_discussion(minutes, self._max_discussion_chars)
        html = self._renderer.html(shortened, lang, for_pdf=True)
        seal = await self._seal(minutes)
        job = PdfJob(html, self._static_dir, (self._static_dir, DEJAVU_DIR), seal)
        try:
            pdf = await self._pool.run(render_pdf, job)
        except ServiceUnavailable:
            self._count("busy")
            raise
        except TimedOut:
            self._count("timeout")
            self._too_slow[key] = None
            if len(self._too_slow) > REMEMBERED_TIMEOUTS:
                del self._too_slow[next(iter(self._too_slow))]
            raise
        if keep:
            await self._cache.put(key, pdf, replaces=prefix)
        self._count("rendered")
        return pdf

    async def _seal(self, minutes: Json) -> Seal | None:
        """Minutes with a signed decision are signed as a PDF by the council's certificate;
        the reason names the decision's hash, which the audit chain holds."""
        decision = minutes["decision"]
        if decision is None or self._signers is None:
            return None
        council = minutes["council"]
        identity = await asyncio.to_thread(
            self._signers.for_council, council["id"], council["name"], council["seat"]["name"]
        )
        return Seal(
            identity.key_pem,
            identity.chain_pem,
            reason=f"Biên bản hội chẩn ca số {minutes['case']['id']}; "
            f"kết luận ký bởi {decision['signed_by']}, SHA-256 {decision['sha256']}",
            location=council["seat"]["name"],
            name=council["name"],
        )

    def _forget(self, key: str, task: asyncio.Task[bytes]) -> None:
        self._printing.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here when every requester has gone away

    def _count(self, outcome: str) -> None:
        self._metrics.minutes_pdf.labels(outcome).inc()
