"""Seeding the demo's consultations through the services people use, so that every demo
account finds work at every stage on first sign-in and the audit trail tells how it came
about (each step in the name of the demo user who took it, from the command line).

Idempotent: a case whose patient code its facility already used is left as it is.
"""

from __future__ import annotations

import io
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone

from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.auth import load_principal
from telemed.accounts.models import UserRole
from telemed.accounts.principal import Actor
from telemed.accounts.repository import AccountRepository
from telemed.audit.service import OPERATOR_ADDRESS
from telemed.cases.attachments import AttachmentService, FormField
from telemed.cases.decisions import DecisionService
from telemed.cases.demo_cases import CASES, MEMBER, TRIAGE, DemoCase, DemoDecision, FileKind
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import (
    Answer,
    DecisionDraft,
    NewCase,
    NewNote,
    OpinionInput,
    SignInput,
    TransitionInput,
)
from telemed.cases.service import CaseService
from telemed.clock import Clock

VIETNAM = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class DemoServices:
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    cases: CaseService
    decisions: DecisionService
    attachments: AttachmentService


async def seed_demo_cases(services: DemoServices) -> int:
    """Create the demo cases that are not there yet; how many were created."""
    actors = await _actors(services.sessionmaker)
    made = 0
    for spec in CASES:
        if await _exists(services.sessionmaker, spec):
            continue
        await _build(services, actors, spec)
        made += 1
    return made


async def _actors(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Actor]:
    names = {c.doctor for c in CASES} | {n.author for c in CASES for n in c.notes}
    names |= {who for pair in TRIAGE.values() for who in pair} | set(MEMBER.values())
    actors: dict[str, Actor] = {}
    async with sessionmaker() as db:
        accounts = AccountRepository(db)
        for name in sorted(names):
            user = await accounts.user_by_username(name)
            if user is None:
                raise LookupError(f"the demo network has no user {name!r}: run it first")
            principal = await load_principal(accounts, user)
            actors[name] = Actor(principal, OPERATOR_ADDRESS, secrets.token_hex(16))
    return actors


async def _exists(sessionmaker: async_sessionmaker[AsyncSession], spec: DemoCase) -> bool:
    async with sessionmaker() as db:
        user = await AccountRepository(db).user_by_username(spec.doctor)
        assert user is not None
        assert user.role is UserRole.DISTRICT_DOCTOR
        assert user.facility_id is not None
        found = await CaseRepository(db).existing_patient_codes(
            user.facility_id, [spec.patient_code]
        )
        return bool(found)


async def _build(services: DemoServices, actors: dict[str, Actor], spec: DemoCase) -> None:
    doctor = actors[spec.doctor]
    chair, secretary = (actors[name] for name in TRIAGE[spec.council])
    member = actors[MEMBER[spec.council]]
    new = NewCase(
        council=spec.council,
        patient_code=spec.patient_code,
        patient_sex=spec.sex,
        patient_birth_year=spec.birth_year,
        title=spec.title,
        summary=spec.summary,
        questions=list(spec.questions),
        specialty=spec.specialty,
        urgency=spec.urgency,
    )
    case_id = int((await services.cases.create(doctor, new))["id"])
    for number, kind in enumerate(spec.files, start=1):
        await services.attachments.upload(doctor, case_id, _form(kind, spec, number))
    if spec.stage == "info_requested":
        change = TransitionInput(action="request_info", message=spec.info_request)
        await services.cases.transition(secretary, case_id, change)
        return
    if spec.stage == "requested":
        return
    if spec.stage == "written":
        await _written(services, actors, spec, case_id)
        return
    await services.cases.transition(secretary, case_id, TransitionInput(action="accept"))
    when = _session_time(services, spec)
    schedule = TransitionInput(action="schedule", scheduled_at=when)
    await services.cases.transition(secretary, case_id, schedule)
    for note in spec.notes:
        body = NewNote(body=note.body, question=note.question)
        await services.cases.add_note(actors[note.author], case_id, body)
    if spec.stage == "scheduled" or spec.decision is None:
        return
    await services.cases.transition(chair, case_id, TransitionInput(action="start_session"))
    version = await _draft(services, chair, case_id, spec.decision)
    await services.decisions.opine(member, case_id, OpinionInput(version=version, stance="concur"))
    # The demo is made by the operator on the server, not by a chair at a browser: its
    # signatures carry the moment they are made as their step-up.
    signer = replace(chair, principal=replace(chair.user, stepped_up_at=services.clock.now()))
    await services.decisions.sign(signer, case_id, SignInput(version=version))
    if spec.stage == "closed":
        change = TransitionInput(action="close", outcome=spec.outcome)
        await services.cases.transition(doctor, case_id, change)


async def _draft(services: DemoServices, chair: Actor, case_id: int, decision: DemoDecision) -> int:
    draft = DecisionDraft(
        version=0,
        answers=[Answer(question=n, answer=a) for n, a in enumerate(decision.answers, start=1)],
        treatment_direction=decision.treatment_direction,
        transfer=decision.transfer,
        follow_up=decision.follow_up,
    )
    return int((await services.decisions.draft(chair, case_id, draft))["version"])


async def _written(
    services: DemoServices, actors: dict[str, Actor], spec: DemoCase, case_id: int
) -> None:
    """A written consultation under way: answers asked for in two days, a note, the
    chair's draft and the member's opinion; the secretary's is still awaited."""
    chair = actors[TRIAGE[spec.council][0]]
    answer_by = services.clock.now() + timedelta(days=2)
    accept = TransitionInput(action="accept_written", answer_by=answer_by)
    await services.cases.transition(chair, case_id, accept)
    for note in spec.notes:
        body = NewNote(body=note.body, question=note.question)
        await services.cases.add_note(actors[note.author], case_id, body)
    assert spec.decision is not None
    version = await _draft(services, chair, case_id, spec.decision)
    opinion = OpinionInput(version=version, stance="concur")
    await services.decisions.opine(actors[MEMBER[spec.council]], case_id, opinion)


def _session_time(services: DemoServices, spec: DemoCase) -> datetime:
    """A scheduled case meets at 09:00 Vietnam time some days ahead; a case decided in
    the demo met just now (its session started at once)."""
    now = services.clock.now()
    if spec.stage != "scheduled":
        return now + timedelta(minutes=1)
    day = now.astimezone(VIETNAM).date() + timedelta(days=spec.in_days)
    return datetime.combine(day, time(9, 0), VIETNAM)


async def _form(kind: FileKind, spec: DemoCase, number: int) -> AsyncIterator[FormField]:
    content, name, description = _file(kind, spec, number)
    yield FormField("file", name, _once(content))
    yield FormField("description", None, _once(description.encode()))


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _file(kind: FileKind, spec: DemoCase, number: int) -> tuple[bytes, str, str]:
    code = spec.patient_code
    if kind == "ecg":
        return ecg_png(spec.birth_year), f"{code}-dien-tam-do.png", "Điện tâm đồ 12 chuyển đạo"
    if kind == "xray":
        return xray_png(spec.birth_year), f"{code}-x-quang.png", "Phim chụp (ảnh minh họa)"
    return lab_pdf(spec), f"{code}-xet-nghiem-{number}.pdf", "Phiếu kết quả xét nghiệm"


def ecg_png(seed: int) -> bytes:
    """A small ECG-like strip: grid and a beating trace (drawn, not a real recording)."""
    width, height = 720, 180
    image = Image.new("RGB", (width, height), (255, 247, 247))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 12):
        draw.line([(x, 0), (x, height)], fill=(250, 205, 205) if x % 60 else (235, 150, 150))
    for row in range(0, height, 12):
        draw.line([(0, row), (width, row)], fill=(250, 205, 205) if row % 60 else (235, 150, 150))
    beat = 110 + seed % 20
    points: list[tuple[float, float]] = []
    for x in range(width):
        phase = x % beat
        y: float = 2.0 * math.sin(x / 7)
        if 20 <= phase < 30:
            y += 8 * math.sin((phase - 20) / 10 * math.pi)  # P wave
        elif 38 <= phase < 42:
            y -= 10  # Q
        elif 42 <= phase < 48:
            y += 70 - abs(phase - 45) * 20  # R
        elif 48 <= phase < 52:
            y -= 14  # S
        elif 65 <= phase < 90:
            y += 14 * math.sin((phase - 65) / 25 * math.pi)  # T wave
        points.append((x, height / 2 + 20 - y))
    draw.line(points, fill=(20, 20, 20), width=2)
    return _png(image)


def xray_png(seed: int) -> bytes:
    """A grey 'film' with soft shapes: an image to open in the viewer, not a diagnosis."""
    image = Image.new("L", (360, 360), 18)
    draw = ImageDraw.Draw(image)
    draw.ellipse([60, 40, 170, 320], fill=90 + seed % 20)
    draw.ellipse([190, 40, 300, 320], fill=85 + seed % 25)
    draw.rectangle([172, 20, 188, 340], fill=200)
    for rib in range(8):
        y = 70 + rib * 30
        draw.arc([40, y - 20, 320, y + 40], 200, 340, fill=170, width=4)
    return _png(image.convert("RGB"))


def lab_pdf(spec: DemoCase) -> bytes:
    """A one-page PDF of laboratory results (ASCII text: the built-in font has no
    Vietnamese diacritics)."""
    image = Image.new("RGB", (595, 420), "white")
    draw = ImageDraw.Draw(image)
    lines = [
        "LABORATORY RESULTS (demo)",
        f"Patient code: {spec.patient_code}    Year of birth: {spec.birth_year}",
        "",
        "Hemoglobin        128 g/L        (120-160)",
        "White cells       11.2 G/L       (4-10)",
        "Platelets         245 G/L        (150-400)",
        "Glucose           9.4 mmol/L     (3.9-6.4)",
        "Creatinine        98 umol/L      (62-106)",
        "Sodium            136 mmol/L     (135-145)",
        "Potassium         4.1 mmol/L     (3.5-5.0)",
        "CRP               24 mg/L        (< 5)",
    ]
    for index, line in enumerate(lines):
        draw.text((40, 40 + index * 28), line, fill="black")
    out = io.BytesIO()
    image.save(out, "PDF", resolution=72)
    return out.getvalue()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()
