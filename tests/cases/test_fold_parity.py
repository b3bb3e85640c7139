"""The browser folds a case's events into the board exactly as the server replays them:
the same logs go through ``web/static/js/board.js`` (under node) and through
``telemed.cases.board.replay``, and the two boards must be equal, field for field.

Hand-written logs name the cases that matter (corrections, reschedules, opinions changed
and replaced by a new draft, amendments, guests in the call), generated logs mix every
event type at random, and one log comes from a real server driven through its API.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from telemed import appkeys
from telemed.cases.board import replay
from telemed.cases.workflow import TRANSITIONS
from tests.support.api import call, step_up
from tests.support.cases import DRAFT, SESSION_AT, act, council_case, to_session
from tests.support.server import RunningServer
from tests.support.services import require_binary

Json = dict[str, Any]

BOARD_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js" / "board.js"

# Reads a JSON list of {start, events} on stdin, writes the list of boards the page's fold
# makes: from nothing, or (as the room does) from the board the server answered at some
# seq (``start``), skipping the events it already holds.
FOLD = """
import { readFileSync } from "node:fs";
const { applyEvent, boardFrom, boardJson, emptyBoard } = await import(process.argv[1]);
const runs = JSON.parse(readFileSync(0, "utf8"));
const boards = runs.map(({ start, events }) => {
  const board = start === null ? emptyBoard() : boardFrom(start);
  for (const event of events) if (event.seq > board.lastSeq) applyEvent(board, event);
  return boardJson(board);
});
process.stdout.write(JSON.stringify(boards));
"""


def fold_in_browser_code(
    logs: list[list[Json]], starts: list[Json | None] | None = None
) -> list[Json]:
    node = require_binary("node", "nodejs")
    runs = [
        {"start": start, "events": events}
        for events, start in zip(logs, starts or [None] * len(logs), strict=True)
    ]
    done = subprocess.run(
        [node, "--input-type=module", "-e", FOLD, BOARD_JS.as_uri()],
        input=json.dumps(runs),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    boards: list[Json] = json.loads(done.stdout)
    return boards


def assert_same_boards(logs: list[list[Json]]) -> None:
    """Each log folds in the page to the server's board: from its first event, and from
    the board the server would have answered halfway through it."""
    halfway = [replay(events[: len(events) // 2]) if len(events) > 1 else None for events in logs]
    from_start = fold_in_browser_code(logs)
    from_halfway = fold_in_browser_code(logs, halfway)
    for events, folded, resumed in zip(logs, from_start, from_halfway, strict=True):
        # Through JSON, as the server sends it: the comparison is of what a client sees.
        expected = json.loads(json.dumps(replay(events)))
        assert folded == expected, [e["type"] for e in events]
        assert resumed == expected, [e["type"] for e in events]


# --- a log, written event by event ------------------------------------------------------

DOCTOR = {"id": 3, "username": "bs.namcan", "full_name": "BS. Nguyễn Văn Năm"}
CHAIR = {"id": 5, "username": "gs.chutoa", "full_name": "GS. Trần Chủ Tọa"}
SECRETARY = {"id": 6, "username": "ts.thuky", "full_name": "TS. Lê Thư Ký"}
MEMBER = {"id": 7, "username": "gs.timmach", "full_name": "GS. Phạm Tim Mạch"}
GUEST = {"id": -1, "username": "guest-1", "full_name": "PGS. Lê Văn Khách"}
INVITED = {"id": -1, "name": "PGS. Lê Văn Khách", "specialty": "Tim mạch can thiệp"}
PEOPLE = [DOCTOR, CHAIR, SECRETARY, MEMBER]


class Log:
    """A case's events as the server writes them, with ids and times that add up."""

    def __init__(self, case_id: int = 41) -> None:
        self.case_id = case_id
        self.events: list[Json] = []
        self.ids = iter(range(100, 10_000))
        self.minute = 0
        self.notes: list[Json] = []
        self.decisions: dict[int, Json] = {}
        self.status = "requested"

    def at(self) -> str:
        self.minute += 7
        day, hour, minute = 1 + self.minute // 1440, self.minute // 60 % 24, self.minute % 60
        return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00+00:00"

    def add(self, type_: str, actor: Json | None, data: Json) -> Log:
        self.events.append(
            {
                "case_id": self.case_id,
                "seq": len(self.events) + 1,
                "type": type_,
                "actor": actor,
                "at": self.at(),
                "data": data,
            }
        )
        return self

    def created(self) -> Log:
        core = {
            "id": self.case_id,
            "title": "Đau ngực cấp",
            "status": "requested",
            "urgency": "urgent",
            "specialty": "Tim mạch",
            "patient": {"code": "NC-2026-001", "sex": "male", "birth_year": 1958},
            "summary": "Nam 68 tuổi, đau ngực trái 3 giờ.",
            "questions": [{"number": 1, "text": "Chẩn đoán?"}, {"number": 2, "text": "Chuyển?"}],
            "requesting_facility": {"id": 2, "code": "BV-NAMCAN", "name": "TTYT Năm Căn"},
            "requested_by": DOCTOR,
            "council": {"id": 1, "code": "HDCM-MIENNAM", "name": "Hội đồng miền Nam"},
            "scheduled_at": None,
            "mode": None,
            "answer_by": None,
            "round_closed_at": None,
            "outcome": None,
            "created_at": "2026-03-01T00:00:00+00:00",
        }
        return self.add("case.created", DOCTOR, {"case": core})

    def move(self, action: str, actor: Json, **fields: Any) -> Log:
        """A transition, or ``decide`` (written by the first signature)."""
        rule = TRANSITIONS.get(action)
        target = rule.target.value if rule else "decided"
        data = {"action": action, "from": self.status, "to": target, **fields}
        if rule is not None and rule.mode is not None:
            data["mode"] = rule.mode.value
        self.status = target
        return self.add(rule.event if rule else "case.decided", actor, data)

    def note(
        self, author: Json, body: str, question: int | None = None, corrects: int | None = None
    ) -> Log:
        note = {
            "id": next(self.ids),
            "seq": len(self.events) + 1,
            "author": author,
            "created_at": f"2026-03-01T00:{len(self.events):02d}:00+00:00",
            "body": body,
            "body_html": f"<p>{body}</p>",
            "question": question,
            "supersedes": self.notes[corrects]["id"] if corrects is not None else None,
        }
        self.notes.append(note)
        return self.add("note.created", author, {"note": note})

    def attachment(self, uploader: Json | None, filename: str, kind: str = "image") -> Log:
        attachment = {
            "id": next(self.ids),
            "seq": len(self.events) + 1,
            "filename": filename,
            "media_type": "image/png",
            "kind": kind,
            "size": 2048,
            "sha256": "ab" * 32,
            "description": None,
            "has_preview": kind == "dicom",
            "uploaded_by": uploader,
            "created_at": "2026-03-01T01:00:00+00:00",
        }
        return self.add("attachment.added", uploader, {"attachment": attachment})

    def draft(self, by: Json, treatment: str) -> Log:
        """A new version of the open draft, or a new draft (amending once decided)."""
        current = next((d for d in self.decisions.values() if d["status"] == "draft"), None)
        if current is None:
            signed = [d["id"] for d in self.decisions.values() if d["status"] == "signed"]
            amends = signed[-1] if signed and self.status in ("decided", "closed") else None
            current = {"id": next(self.ids), "version": 0, "amends": amends}
        decision = {
            "id": current["id"],
            "status": "draft",
            "version": current["version"] + 1,
            "answers": [{"question": 1, "answer": treatment}],
            "treatment_direction": treatment,
            "transfer": False,
            "follow_up": None,
            "amends": current["amends"],
            "drafted_by": by,
            "signed_by": None,
            "signed_at": None,
            "content_sha256": None,
            "opinions": [],  # a new version clears the opinions
        }
        self.decisions[decision["id"]] = decision
        return self.add("decision.drafted", by, {"decision": decision})

    def opinion(
        self, who: Json, stance: str, reason: str | None = None, at: str | None = None
    ) -> Log:
        draft = next(d for d in self.decisions.values() if d["status"] == "draft")
        opinion = {"user": who, "stance": stance, "reason": reason, "at": at or self.at()}
        kept = [o for o in draft["opinions"] if o["user"]["id"] != who["id"]]
        draft["opinions"] = sorted([*kept, opinion], key=lambda o: (o["at"], o["user"]["id"]))
        data = {"decision_id": draft["id"], "version": draft["version"], "opinion": opinion}
        return self.add("decision.opinion", who, data)

    def sign(self, by: Json) -> Log:
        draft = next(d for d in self.decisions.values() if d["status"] == "draft")
        signed = {
            **draft,
            "status": "signed",
            "signed_by": by,
            "signed_at": self.at(),
            "content_sha256": "cd" * 32,
        }
        self.decisions[draft["id"]] = signed
        self.add("decision.signed", by, {"decision": signed})
        if self.status in ("in_session", "accepted"):
            self.move("decide", by)
        return self

    def call(self, type_: str, who: Json, **data: Any) -> Log:
        if who is GUEST:  # a guest has no account: the event names them in its data
            return self.add(type_, None, {**data, "guest": GUEST})
        return self.add(type_, who, data)


def named_logs() -> Iterator[tuple[str, list[Json]]]:
    yield "nothing yet", []
    yield "just created", Log().created().events
    yield (
        "notes and a correction of a correction",
        Log()
        .created()
        .note(DOCTOR, "Troponin 2,3")
        .note(MEMBER, "Ý kiến", question=1)
        .note(DOCTOR, "Troponin 2,4", corrects=0)
        .note(DOCTOR, "Troponin 2,5", corrects=2)
        .note(CHAIR, "Đồng ý", question=2)
        .events,
    )
    yield (
        "information asked and given, then declined",
        Log()
        .created()
        .move("request_info", CHAIR, message="Thêm XN")
        .move("provide_info", DOCTOR, message="Đã có")
        .move("decline", SECRETARY, reason="Không thuộc chuyên khoa")
        .events,
    )
    yield (
        "scheduled twice, then cancelled",
        Log()
        .created()
        .move("accept", CHAIR)
        .move("schedule", CHAIR, scheduled_at="2026-03-02T01:00:00+00:00")
        .move("schedule", SECRETARY, scheduled_at="2026-03-03T02:00:00+00:00")
        .move("cancel", DOCTOR)
        .events,
    )
    yield (
        "attachments, the recording's included",
        Log()
        .created()
        .attachment(DOCTOR, "ecg.png")
        .attachment(DOCTOR, "ct.dcm", "dicom")
        .attachment(CHAIR, "session.webm", "video")
        .events,
    )
    yield (
        "a whole consultation with a guest in the call and an amendment",
        Log()
        .created()
        .move("accept", CHAIR)
        .move("schedule", CHAIR, scheduled_at="2026-03-02T01:00:00+00:00")
        .call("call.join", MEMBER, peer_id="p-member")
        .add("guest.invited", CHAIR, {"guest": INVITED, "expires_at": "2026-03-03T00:00:00+00:00"})
        .call("call.join", GUEST, peer_id="p-guest")
        .move("start_session", CHAIR)
        .call("recording.consent", GUEST, peer_id="p-guest", consent=True)
        .call("recording.started", CHAIR, peers=["p-member", "p-guest"], video_peer=None)
        .draft(CHAIR, "Nhồi máu cơ tim")
        .opinion(MEMBER, "dissent", "Chưa rõ")
        .opinion(SECRETARY, "concur")
        .opinion(MEMBER, "concur")  # replaces the member's dissent
        .draft(SECRETARY, "Nhồi máu cơ tim cấp")  # a new version clears the opinions
        .opinion(MEMBER, "concur")
        .call("recording.stopped", CHAIR, reason="stopped")
        .call("call.leave", GUEST, peer_id="p-guest", reason="left")
        .sign(CHAIR)
        .draft(CHAIR, "Chụp mạch vành")
        .opinion(MEMBER, "concur")
        .sign(SECRETARY)
        .move("close", DOCTOR, outcome="Ổn định")
        .events,
    )
    yield (
        "written, made live, back to writing when the session cannot happen, signed",
        Log()
        .created()
        .move("accept_written", CHAIR, answer_by="2026-03-02T01:00:00+00:00", round_closed_at=None)
        .draft(CHAIR, "Nhồi máu cơ tim")
        .opinion(MEMBER, "concur")
        .note(SECRETARY, "Cần chụp mạch", question=1)
        .move("schedule", CHAIR, scheduled_at="2026-03-03T01:00:00+00:00")
        .move("start_session", CHAIR)
        .move(
            "continue_in_writing",
            SECRETARY,
            answer_by="2026-03-04T01:00:00+00:00",
            round_closed_at=None,
            scheduled_at=None,
        )
        .opinion(SECRETARY, "dissent", "Chưa đủ")
        .move("close_round", CHAIR, round_closed_at="2026-03-04T02:00:00+00:00")
        .sign(CHAIR)
        .events,
    )
    many = Log().created().move("accept", CHAIR)
    for n in range(130):
        many.note(PEOPLE[n % len(PEOPLE)], f"ghi chú {n}")
    yield (
        "more notes than a board carries, corrected across its pages",
        many.note(DOCTOR, "sửa ghi chú đầu", corrects=0)
        .note(CHAIR, "sửa ghi chú 100", corrects=100)
        .note(CHAIR, "sửa lại", corrects=131)
        .events,
    )
    quiet = Log().created().move("accept", CHAIR)
    for n in range(60):
        quiet.note(MEMBER, f"ghi chú {n}")
    for _ in range(70):  # the board halfway already pages its notes; no note comes after
        quiet.call("call.join", MEMBER, peer_id="p").call("call.leave", MEMBER, peer_id="p")
    yield ("a board that pages its notes, then only other events", quiet.events)
    tied = "2026-03-01T05:00:00+00:00"
    yield (
        "opinions given at the same instant sort by user",
        Log()
        .created()
        .move("accept", CHAIR)
        .draft(CHAIR, "Chẩn đoán")
        .opinion(MEMBER, "concur", at=tied)
        .opinion(SECRETARY, "dissent", "Không", at=tied)
        .opinion(CHAIR, "concur", at="2026-03-01T04:00:00+00:00")
        .events,
    )


@pytest.mark.parametrize("log", [log for _, log in named_logs()], ids=[n for n, _ in named_logs()])
def test_the_page_folds_each_named_log_as_the_server_replays_it(log: list[Json]) -> None:
    assert_same_boards([log])


# --- logs at random ---------------------------------------------------------------------

Step = Callable[[Log, random.Random], None]


def _any_step(log: Log, rng: random.Random) -> None:
    who = rng.choice(PEOPLE)
    has_draft = any(d["status"] == "draft" for d in log.decisions.values())
    choice = rng.randrange(9)
    if choice == 0:
        log.note(who, f"ghi chú {len(log.events)}", question=rng.choice([None, 1, 2]))
    elif choice == 1 and log.notes:
        log.note(who, "sửa", corrects=rng.randrange(len(log.notes)))
    elif choice == 2:
        log.attachment(who, f"f{len(log.events)}.png", rng.choice(["image", "pdf", "dicom"]))
    elif choice == 3:
        action = rng.choice(list(TRANSITIONS))
        extra: Json = {"scheduled_at": log.at()} if action == "schedule" else {}
        if action in ("accept_written", "continue_in_writing"):
            extra = {"answer_by": log.at(), "round_closed_at": None}
            if rng.random() < 0.5:
                extra["scheduled_at"] = None
        if action == "close_round":
            extra = {"round_closed_at": log.at()}
        if action == "close":
            extra = {"outcome": f"kết quả {len(log.events)}"}
        log.move(action, who, **extra)
    elif choice == 4:
        log.draft(who, f"hướng điều trị {len(log.events)}")
    elif choice == 5 and has_draft:
        log.opinion(who, rng.choice(["concur", "dissent"]), rng.choice([None, "vì"]))
    elif choice == 6 and has_draft:
        log.sign(who)
    elif choice == 7:
        log.call(rng.choice(["call.join", "call.leave"]), rng.choice([*PEOPLE, GUEST]), peer_id="p")
    elif rng.random() < 0.5:
        log.call("recording.consent", rng.choice([who, GUEST]), peer_id="p", consent=True)
    else:
        log.add("guest.invited", who, {"guest": INVITED, "expires_at": log.at()})


def random_logs(count: int, seed: int) -> list[list[Json]]:
    rng = random.Random(seed)
    logs = []
    for _ in range(count):
        log = Log(case_id=rng.randrange(1, 500)).created()
        for _ in range(rng.randrange(0, 40 if rng.random() < 0.9 else 400)):
            _any_step(log, rng)
        if rng.random() < 0.3:
            log.move("close", DOCTOR, outcome="Ổn định")
        logs.append(log.events)
    return logs


def test_the_page_folds_random_logs_as_the_server_replays_them() -> None:
    assert_same_boards(random_logs(300, seed=12))


# --- a log a real server wrote ----------------------------------------------------------


async def test_the_page_folds_a_real_case_log_into_the_board_the_api_returns(
    server: RunningServer,
) -> None:
    doctor, chair, member, case_id = await council_case(server)
    base = f"/api/v1/cases/{case_id}"
    # A reminder written by the system (no actor) folds into nothing.
    later = server.app[appkeys.CLOCK].now() + timedelta(hours=20)
    assert await server.app[appkeys.DEADLINE_SERVICE].tick(later) == 1
    await call(doctor, "POST", base + "/notes", {"body": "Troponin 2,3"}, expect=201)
    await call(doctor, "POST", base + "/notes", {"body": "Troponin 2,4", "supersedes": 1}, 201)
    await to_session(chair, case_id)
    await call(chair, "PUT", base + "/decision/draft", DRAFT)
    await call(member, "POST", base + "/decision/opinions", {"version": 1, "stance": "concur"})
    await step_up(chair)
    await call(chair, "POST", base + "/decision/sign", {"version": 1})
    await act(doctor, case_id, "close", outcome="Ổn định")

    log = (await call(chair, "GET", base + "/events?after=0&limit=1000"))["events"]
    board = await call(doctor, "GET", base)
    del board["allowed_actions"]  # the reader's, not the log's
    del board["deadlines"]  # computed from the clock and the settings, not the log
    [folded] = fold_in_browser_code([log])
    assert folded == board
    assert folded == replay(log)


async def test_the_page_folds_a_real_written_consultation_that_went_live_and_back(
    server: RunningServer,
) -> None:
    doctor, chair, member, case_id = await council_case(server)
    base = f"/api/v1/cases/{case_id}"
    await act(chair, case_id, "accept_written", answer_by=SESSION_AT)
    await call(chair, "PUT", base + "/decision/draft", DRAFT)
    await call(member, "POST", base + "/decision/opinions", {"version": 1, "stance": "concur"})
    await act(chair, case_id, "schedule", scheduled_at=SESSION_AT)
    await act(chair, case_id, "start_session")
    await act(chair, case_id, "continue_in_writing", answer_by=SESSION_AT)
    await act(chair, case_id, "close_round")
    await step_up(chair)
    await call(chair, "POST", base + "/decision/sign", {"version": 1})

    log = (await call(chair, "GET", base + "/events?after=0&limit=1000"))["events"]
    board = await call(doctor, "GET", base)
    del board["allowed_actions"], board["deadlines"]  # the reader's and the clock's
    assert (board["mode"], board["status"], board["scheduled_at"]) == ("written", "decided", None)
    assert board["round_closed_at"] is not None
    [folded] = fold_in_browser_code([log])
    assert folded == board
    assert folded == replay(log)
