"""The minutes PDF under load: laid out in worker processes, bounded, cached per version."""

from __future__ import annotations

import asyncio
import io
import json
import stat
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pypdf
from sqlalchemy import select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.cases.pdf_cache import PdfCache
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call
from tests.support.cases import DECIDED_CASE, act, create_case, decide
from tests.support.pool_jobs import hold_until
from tests.support.server import RunningServer, SignedIn, running

NOTE = "Bệnh nhân đau ngực trái lan lên vai, vã mồ hôi, huyết áp 100/60 mmHg. "


async def add_notes(who: SignedIn, case_id: int, count: int, chars: int) -> None:
    for n in range(count):
        body = (f"Ghi chú số {n}. " + NOTE * (chars // len(NOTE) + 1))[:chars]
        await call(who, "POST", f"/api/v1/cases/{case_id}/notes", {"body": body}, 201)


async def pdf_response(who: SignedIn, case_id: int, lang: str = "vi") -> tuple[int, Any, bytes]:
    path = f"/api/v1/cases/{case_id}/minutes.pdf?lang={lang}"
    async with who.http.get(path, headers=who.bearer) as response:
        return response.status, response.headers, await response.read()


async def pdf_of(who: SignedIn, case_id: int, lang: str = "vi") -> bytes:
    status, _, body = await pdf_response(who, case_id, lang)
    assert status == 200, body[:300]
    assert body.startswith(b"%PDF-")
    return body


def text_of(pdf: bytes) -> str:
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(page.extract_text() for page in pages)
    return unicodedata.normalize("NFC", " ".join(text.split()))


async def metric(server: RunningServer, family: str, **labels: str) -> float:
    """A sample of /metrics; the family must exist, a label set not yet seen counts 0."""
    async with server.http().get("/metrics") as response:
        lines = (await response.text()).splitlines()
    assert any(line.startswith(f"# TYPE {family} ") for line in lines), family
    sample = family + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "} "
    return next((float(line.split()[-1]) for line in lines if line.startswith(sample)), 0.0)


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(3000):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def pdf_audit(server: RunningServer, case_id: int) -> list[tuple[str, str]]:
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = await db.scalars(
            select(AuditRecord)
            .where(AuditRecord.case_id == case_id, AuditRecord.action == "minutes.pdf")
            .order_by(AuditRecord.seq)
        )
        return [(r.actor_username or "", r.outcome) for r in rows]


async def test_healthz_answers_while_a_large_minutes_pdf_is_laid_out(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor, **DECIDED_CASE))["id"])
    await add_notes(doctor, case_id, count=9, chars=20_000)
    printing = asyncio.create_task(pdf_of(doctor, case_id))

    async def laying_out() -> bool:
        return await metric(server, "telemed_pdf_layouts", state="running") == 1

    await eventually(laying_out)
    async with server.http().get("/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
    # /healthz came back while the layout was still going on: nothing waited for it.
    assert not printing.done()
    pdf = await printing
    assert "Ghi chú số 8." in text_of(pdf)


async def test_a_layout_past_the_timeout_is_stopped_and_the_pool_keeps_working(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    # Enough for the small minutes below even on a machine busy with other tests; the
    # large ones (a megabyte of notes) take far longer than this.
    settings = make_settings(pdf_timeout_seconds=10, pdf_max_discussion_chars=10**7)
    async with running(settings, clock) as server:
        doctor = await server.sign_in("bs.namcan")
        large = int((await create_case(doctor, **DECIDED_CASE))["id"])
        await add_notes(doctor, large, count=50, chars=20_000)
        status, _, body = await pdf_response(doctor, large)
        assert status == 504, body[:300]
        error = json.loads(body)["error"]
        assert error["code"] == "timeout"
        assert "longer than 10 s" in error["message"]
        assert await metric(server, "telemed_minutes_pdf_total", outcome="timeout") == 1
        # Asked again, the same version is refused from memory: no worker is held for it.
        status, _, again = await pdf_response(doctor, large)
        assert status == 504
        assert json.loads(again)["error"]["code"] == "timeout"
        assert "This version of the minutes took too long" in json.loads(again)["error"]["message"]
        assert await metric(server, "telemed_minutes_pdf_total", outcome="timeout") == 2
        # The stuck worker was replaced: the next minutes print.
        small = int((await create_case(doctor, **DECIDED_CASE))["id"])
        assert "NC-2026-042" in text_of(await pdf_of(doctor, small))
        refused = [("bs.namcan", "success"), ("bs.namcan", "error")]
        assert await pdf_audit(server, large) == refused * 2


async def test_a_full_pdf_queue_answers_503_with_retry_after(
    make_settings: Callable[..., Settings], clock: ManualClock, tmp_path: Path
) -> None:
    settings = make_settings(pdf_workers=1, pdf_max_waiting=1)
    async with running(settings, clock) as server:
        doctor = await server.sign_in("bs.namcan")
        case_id, _ = await decide(server, doctor)
        release = tmp_path / "release"
        # The one worker is busy with a real job in its process until the test releases it.
        holding = asyncio.create_task(server.app[appkeys.PDF_POOL].run(hold_until, release))

        async def layouts(state: str, count: int) -> bool:
            return await metric(server, "telemed_pdf_layouts", state=state) == count

        await eventually(lambda: layouts("running", 1))
        waiting = asyncio.create_task(pdf_of(doctor, case_id))
        await eventually(lambda: layouts("waiting", 1))
        # Another version (English), so it cannot share the waiting request's layout.
        status, headers, body = await pdf_response(doctor, case_id, "en")
        assert status == 503, body[:300]
        assert headers["Retry-After"] == "10"
        error = json.loads(body)["error"]
        assert error["code"] == "unavailable"
        assert error["retry_after"] == 10
        assert "Too many PDFs" in error["message"]
        assert not waiting.done()
        release.touch()
        assert await holding == "released"
        assert "NC-2026-042" in text_of(await waiting)
        assert await metric(server, "telemed_minutes_pdf_total", outcome="busy") == 1
        audit = await pdf_audit(server, case_id)
        assert sorted(audit) == sorted([("bs.namcan", "success")] * 2 + [("bs.namcan", "error")])


async def test_the_same_version_comes_from_the_cache_and_a_new_event_prints_anew(
    server: RunningServer, settings: Settings
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id, _ = await decide(server, doctor)
    first = await pdf_of(doctor, case_id)
    second = await pdf_of(doctor, case_id)
    assert second == first
    assert await metric(server, "telemed_minutes_pdf_total", outcome="rendered") == 1
    assert await metric(server, "telemed_minutes_pdf_total", outcome="cached") == 1
    directory = settings.data_dir / "minutes-pdf"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    [stored] = directory.iterdir()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stored.read_bytes() == first

    await act(doctor, case_id, "close", outcome="Ổn định, xuất viện.")
    third = await pdf_of(doctor, case_id)
    assert third != first
    assert "Ổn định, xuất viện." in text_of(third)
    assert await metric(server, "telemed_minutes_pdf_total", outcome="rendered") == 2
    # The stale version is gone from the disk.
    assert [p.read_bytes() for p in directory.iterdir()] == [third]


async def test_a_long_discussion_is_shortened_in_the_pdf_and_the_pdf_says_so(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    async with running(make_settings(pdf_max_discussion_chars=1_000), clock) as server:
        doctor = await server.sign_in("bs.namcan")
        case_id = int((await create_case(doctor, **DECIDED_CASE))["id"])
        await add_notes(doctor, case_id, count=3, chars=600)
        text = text_of(await pdf_of(doctor, case_id))
        assert "Bản PDF này rút gọn phần thảo luận: 2 trên 3 ghi chú" in text
        assert "Ghi chú số 0." in text
        assert "Ghi chú số 1." in text
        assert "Ghi chú số 2." not in text
        english = text_of(await pdf_of(doctor, case_id, "en"))
        assert "This PDF shows the discussion shortened: 2 of 3 notes" in english
        # The minutes on screen keep every note.
        async with doctor.http.get(
            f"/api/v1/cases/{case_id}/minutes", headers=doctor.bearer
        ) as response:
            assert "Ghi chú số 2." in await response.text()


async def test_the_pdf_cache_keeps_to_its_size_dropping_the_least_recently_read(
    tmp_path: Path,
) -> None:
    cache = PdfCache(tmp_path / "minutes-pdf", max_bytes=2_500)
    for key in ("case-1-vi-a", "case-2-vi-a", "case-3-vi-a"):
        await cache.put(key, key.encode() * 100, replaces=key[:-1])  # 1,100 bytes each
        await asyncio.sleep(0.01)
    assert await cache.get("case-1-vi-a") is None
    assert await cache.get("case-2-vi-a") == b"case-2-vi-a" * 100
    await cache.put("case-4-vi-a", b"x" * 1_100, replaces="case-4-vi-")
    # case-2 was read after case-3 was written: case-3 is the least recently read.
    assert await cache.get("case-3-vi-a") is None
    assert await cache.get("case-2-vi-a") is not None


async def test_a_cache_that_cannot_be_used_does_not_fail_the_request(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_bytes(b"a file where the data directory should be")
    cache = PdfCache(blocker / "minutes-pdf", max_bytes=10_000)
    await cache.put("case-1-vi-a", b"%PDF-", replaces="case-1-vi-")  # logged, not raised
    assert await cache.get("case-1-vi-a") is None  # a miss: the PDF is laid out again
