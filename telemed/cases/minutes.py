"""Consultation minutes (biên bản hội chẩn) as HTML and PDF, and the case as FHIR.

Everything comes from one *record*: the board (``board_from_tables``) plus what the board
does not carry, the asked council's memberships (chair, secretary, members and their
specialties), each person's facility (the connection points), the guest specialists
admitted to the call, when the session started and, for a reader who may see it, who the
patient is (each such read audited as ``case.identity.view``). ``minutes_data`` and
``fhir.consultation_bundle`` are pure functions of that record. No record is built while a
signed decision or a note of the case does not match its seal (``seals.require_intact``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

import jinja2
from sqlalchemy import select

from telemed.accounts.models import CouncilMembership, CouncilRole, User
from telemed.accounts.principal import Actor
from telemed.audit.log import AuditEntry, Outcome
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.fhir import consultation_bundle
from telemed.cases.identity import reveal_in
from telemed.cases.identity_cipher import IdentityCipher
from telemed.cases.minutes_pdf import MinutesPrinter
from telemed.cases.models import CaseEvent
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import IDENTITY_FIELDS
from telemed.cases.seals import require_intact
from telemed.cases.service import board_from_tables
from telemed.clock import Clock
from telemed.errors import DomainError
from telemed.i18n import Catalogs
from telemed.shapes import Json, iso

# Vietnam keeps UTC+7 all year (no daylight saving): a fixed offset needs no tz database.
VIETNAM_TIME = timezone(timedelta(hours=7), "UTC+7")
GUEST_EVENTS = ("guest.invited", "call.join")
ROLE_ORDER = {
    CouncilRole.CHAIR.value: 0,
    CouncilRole.SECRETARY.value: 1,
    CouncilRole.MEMBER.value: 2,
}


class MinutesRepository(CaseRepository):
    """The few queries the minutes need beyond the board's."""

    async def memberships(self, council_id: int) -> Sequence[CouncilMembership]:
        rows = await self.session.scalars(
            select(CouncilMembership)
            .where(CouncilMembership.council_id == council_id)
            .order_by(CouncilMembership.user_id)
        )
        return rows.all()

    async def admitted_guests(self, case_id: int) -> list[Json]:
        """Guest specialists who joined the call (the chair admitted them from the lobby),
        with the specialty they were invited as, in the order they first joined."""
        rows = await self.session.execute(
            select(CaseEvent.type, CaseEvent.data)
            .where(CaseEvent.case_id == case_id, CaseEvent.type.in_(GUEST_EVENTS))
            .order_by(CaseEvent.seq)
        )
        invited: dict[int, str] = {}
        joined: dict[int, Json] = {}
        for type_, data in rows:
            if type_ == "guest.invited":
                invited[data["guest"]["id"]] = data["guest"]["specialty"]
            elif "guest" in data:
                guest = data["guest"]
                joined.setdefault(guest["id"], {"id": guest["id"], "full_name": guest["full_name"]})
        return [{**g, "specialty": invited.get(g["id"], "")} for g in joined.values()]

    async def last_event_at(self, case_id: int, type_: str) -> datetime | None:
        return await self.session.scalar(
            select(CaseEvent.at)
            .where(CaseEvent.case_id == case_id, CaseEvent.type == type_)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )


def person_json(user: User) -> Json:
    facility = user.facility
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "facility": {"code": facility.code, "name": facility.name} if facility else None,
    }


def local_time(value: str | None) -> str | None:
    """An ISO timestamp as Vietnamese readers write it, in Vietnam time."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value).astimezone(VIETNAM_TIME)
    return moment.strftime("%d/%m/%Y %H:%M") + " (UTC+7)"


def _seat_rows(record: Json, participant_ids: set[int]) -> list[Json]:
    """Chair and secretary always; other members when they took part."""
    people = record["people"]
    rows = []
    for seat in record["seats"]:
        took_part = seat["user_id"] in participant_ids
        if seat["council_role"] == CouncilRole.MEMBER.value and not took_part:
            continue
        person = people[seat["user_id"]]
        rows.append({**seat, "full_name": person["full_name"], "present": took_part})
    rows.sort(key=lambda r: (ROLE_ORDER[r["council_role"]], r["full_name"]))
    return rows


def _sites(record: Json, participant_ids: list[int]) -> list[Json]:
    board = record["board"]
    sites: dict[str, Json] = {}

    def add(facility: Json | None, role: str) -> None:
        if facility is not None and facility["code"] not in sites:
            sites[facility["code"]] = {
                "code": facility["code"],
                "name": facility["name"],
                "role": role,
            }

    add(board["requesting_facility"], "requesting")
    add(record["council_seat"], "council")
    for user_id in participant_ids:
        add(record["people"][user_id]["facility"], "participant")
    return list(sites.values())


def _version(decision: Json, by_id: dict[int, Json]) -> Json:
    """One signed decision as the minutes show it, with its own opinions."""
    amended = by_id.get(decision["amends"]) if decision["amends"] else None
    opinions = decision["opinions"]
    return {
        "id": decision["id"],
        "answers": {a["question"]: a["answer"] for a in decision["answers"]},
        "treatment_direction": decision["treatment_direction"],
        "transfer": decision["transfer"],
        "follow_up": decision["follow_up"],
        "signed_by": decision["signed_by"]["full_name"] if decision["signed_by"] else None,
        "signed_at": local_time(decision["signed_at"]),
        "sha256": decision["content_sha256"],
        "amends": None
        if amended is None
        else {
            "id": amended["id"],
            "signed_at": local_time(amended["signed_at"]),
            "sha256": amended["content_sha256"],
        },
        "concurrences": [o["user"]["full_name"] for o in opinions if o["stance"] == "concur"],
        "dissents": [
            {"full_name": o["user"]["full_name"], "reason": o["reason"]}
            for o in opinions
            if o["stance"] == "dissent"
        ],
    }


def _signed_versions(board: Json) -> list[Json]:
    """Every signed decision, oldest first: an amendment does not erase what it amends."""
    by_id = {d["id"]: d for d in board["decisions"]}
    return [_version(d, by_id) for d in board["decisions"] if d["status"] == "signed"]


def _identity_shown(identity: dict[str, str] | None) -> dict[str, str | None] | None:
    """The identity as the minutes print it: every field (None when not recorded), a date
    of birth as Vietnamese readers write it."""
    if not identity:
        return None
    shown: dict[str, str | None] = {name: identity.get(name) for name in IDENTITY_FIELDS}
    if born := identity.get("date_of_birth"):
        shown["date_of_birth"] = date.fromisoformat(born).strftime("%d/%m/%Y")
    return shown


def _answered(board: Json) -> list[Json]:
    """Who gave an opinion on the decision the minutes report (the latest signed one, else
    the draft), and when: in a written consultation, the council's answers."""
    decisions = board["decisions"]
    signed = [d for d in decisions if d["status"] == "signed"]
    reported = signed[-1] if signed else (decisions[-1] if decisions else None)
    if reported is None:
        return []
    return [
        {
            "full_name": o["user"]["full_name"] if o["user"] else None,
            "stance": o["stance"],
            "at": local_time(o["at"]),
        }
        for o in reported["opinions"]
    ]


def minutes_data(record: Json) -> Json:
    """Everything the minutes show, already ordered and formatted; texts still raw."""
    board = record["board"]
    participant_ids = [p["id"] for p in board["participants"]]
    seat_ids = {seat["user_id"] for seat in record["seats"]}
    seats = _seat_rows(record, set(participant_ids))
    versions = _signed_versions(board)
    conclusion = versions[-1] if versions else None
    return {
        "case": {
            "id": board["id"],
            "title": board["title"],
            "status": board["status"],
            "urgency": board["urgency"],
            "specialty": board["specialty"],
            "created_at": local_time(board["created_at"]),
            "scheduled_at": local_time(board["scheduled_at"]),
            "session_started_at": local_time(record["session_started_at"]),
            "mode": board.get("mode"),
            "answer_by": local_time(board.get("answer_by")),
            "outcome": board["outcome"],
        },
        "council": {**board["council"], "seat": record["council_seat"]},
        "sites": _sites(record, participant_ids),
        "chairs": [s for s in seats if s["council_role"] == CouncilRole.CHAIR.value],
        "secretaries": [s for s in seats if s["council_role"] == CouncilRole.SECRETARY.value],
        "members": seats,
        "others": [record["people"][uid] for uid in participant_ids if uid not in seat_ids],
        "guests": record["guests"],
        "requested_by": board["requested_by"]["full_name"] if board["requested_by"] else None,
        "patient": board["patient"],
        "identity": _identity_shown(record["identity"]),
        "summary": board["summary"],
        "attachments": [
            {"filename": a["filename"], "kind": a["kind"], "description": a["description"]}
            for a in board["attachments"]
        ],
        "notes": [
            {
                "author": n["author"]["full_name"] if n["author"] else None,
                "at": local_time(n["created_at"]),
                "question": n["question"],
                "body": n["body"],
            }
            for n in board["notes"]
            if n["superseded_by"] is None
        ],
        "questions": [
            {
                "number": q["number"],
                "text": q["text"],
                "answer": conclusion["answers"].get(q["number"]) if conclusion else None,
            }
            for q in board["questions"]
        ],
        "decision": conclusion,
        "answered": _answered(board),
        # The versions the current decision replaced, newest first, each as it was signed.
        "earlier": versions[-2::-1],
        "draft_pending": any(d["status"] == "draft" for d in board["decisions"]),
        "signed_history": [
            {
                "id": v["id"],
                "amends": v["amends"]["id"] if v["amends"] else None,
                "signed_at": v["signed_at"],
                "sha256": v["sha256"],
            }
            for v in versions
        ],
        "generated_at": local_time(record["generated_at"]),
    }


class MinutesRenderer:
    """The minutes template in a chosen language (the PDF is this HTML, see minutes_pdf)."""

    def __init__(self, env: jinja2.Environment, catalogs: Catalogs) -> None:
        self._env = env
        self._catalogs = catalogs

    def html(self, minutes: Json, lang: str, *, for_pdf: bool = False) -> str:
        template = self._env.get_template("minutes.html")
        context = {
            **self._catalogs.context(lang),
            "minutes": minutes,
            "for_pdf": for_pdf,
            # The browser fetches /static/...; WeasyPrint resolves the same relative
            # path against base_url, a file: URL of web/static.
            "static_prefix": "" if for_pdf else "/static/",
        }
        return template.render(context)


class MinutesService:
    def __init__(
        self,
        work: AuditedWork,
        clock: Clock,
        renderer: MinutesRenderer,
        printer: MinutesPrinter,
        cipher: IdentityCipher,
    ) -> None:
        self._work = work
        self._clock = clock
        self._renderer = renderer
        self._printer = printer
        self._cipher = cipher

    async def data(self, actor: Actor, case_id: int) -> Json:
        """The minutes' content, for the participants of the case only."""
        return minutes_data(await self._record(actor, case_id, "minutes.read"))

    async def html(self, actor: Actor, case_id: int, lang: str) -> str:
        return self._renderer.html(await self.data(actor, case_id), lang)

    async def pdf(self, actor: Actor, case_id: int, lang: str) -> bytes:
        minutes = minutes_data(await self._record(actor, case_id, "minutes.pdf"))
        # Printed after the transaction: layout takes a while and holds no database lock.
        try:
            return await self._printer.pdf(minutes, lang)
        except DomainError:
            # Busy or too slow: the read above is audited, and so is the refusal.
            await self._work.record_alone(actor, AuditEntry("minutes.pdf", case_id), Outcome.ERROR)
            raise

    async def fhir(self, actor: Actor, case_id: int) -> Json:
        return consultation_bundle(await self._record(actor, case_id, "case.fhir_export"))

    async def _record(self, actor: Actor, case_id: int, action: str) -> Json:
        async with self._work(actor, action, case_id=case_id) as unit:
            repo = MinutesRepository(unit.db)
            case = access.require_clinical(actor.user, await repo.get(case_id))
            # Nothing is produced from a record that no longer matches its seal.
            await require_intact(unit.db, case.id)
            board = await board_from_tables(repo, case)
            council = await repo.council(case.council_id)
            assert council is not None
            seats = await repo.memberships(case.council_id)
            started = await repo.last_event_at(case.id, "case.session_started")
            people_ids = {p["id"] for p in board["participants"]} | {s.user_id for s in seats}
            users = await repo.users(people_ids | {case.requested_by_id})
            return {
                "board": board,
                "council_seat": {
                    "code": council.seat_facility.code,
                    "name": council.seat_facility.name,
                },
                "seats": [
                    {
                        "user_id": s.user_id,
                        "council_role": s.council_role.value,
                        "specialty": s.specialty,
                    }
                    for s in seats
                    if s.user_id in users
                ],
                "people": {uid: person_json(user) for uid, user in users.items()},
                "guests": await repo.admitted_guests(case.id),
                # Who the patient is, for a reader who may see it (audited in this unit).
                "identity": await reveal_in(unit, repo, self._cipher, actor.user, case),
                "session_started_at": iso(started),
                "generated_at": iso(self._clock.now()),
            }
