"""Statistics for administrators: volume, time from request to signed decision, transfers,
and per consultation mode and urgency the time to the council's first answer and to the
decision.

Figures carry no clinical content: counts per facility and month, durations per urgency,
and the share of decided cases whose (latest) signed decision keeps the patient where
they are. Months are counted in Vietnam time (UTC+7), where the cases happen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone

from telemed.accounts.models import UserRole
from telemed.accounts.principal import Actor
from telemed.audit.work import AuditedWork
from telemed.cases.models import ConsultationMode, Urgency
from telemed.clock import Clock
from telemed.errors import Forbidden
from telemed.shapes import Json
from telemed.stats.repository import CaseFacts, SignedOutcome, StatsRepository
from telemed.stats.schemas import StatsQuery

VIETNAM = timezone(timedelta(hours=7))


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``share`` of them at or
    below it (the median of an even count is then the lower middle value)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def month_of(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m")


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (YYYY-MM), so that empty months show as 0."""
    year, month = map(int, first.split("-"))
    end = tuple(map(int, last.split("-")))
    months = []
    while (year, month) <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def per_month(cases: Sequence[CaseFacts]) -> list[Json]:
    counts = Counter(month_of(c.created_at) for c in cases)
    if not counts:
        return []
    return [{"month": m, "requests": counts[m]} for m in months_between(min(counts), max(counts))]


def time_to_decision(cases: Sequence[CaseFacts]) -> list[Json]:
    rows = []
    for urgency in Urgency:
        seconds = [
            (c.decided_at - c.created_at).total_seconds()
            for c in cases
            if c.urgency is urgency and c.decided_at is not None
        ]
        rows.append(
            {
                "urgency": urgency.value,
                "decided": len(seconds),
                "median_seconds": percentile(seconds, 0.5),
                "p90_seconds": percentile(seconds, 0.9),
            }
        )
    return rows


def per_mode(cases: Sequence[CaseFacts], first_answers: Mapping[int, datetime]) -> list[Json]:
    """Time from request to the council's first answer and to the signed decision, per
    consultation mode (the one the case is in now) and urgency. Cases never accepted have
    no mode and are left out."""
    rows = []
    for mode in ConsultationMode:
        for urgency in Urgency:
            group = [c for c in cases if c.mode is mode and c.urgency is urgency]
            answered = [
                (first_answers[c.id] - c.created_at).total_seconds()
                for c in group
                if c.id in first_answers
            ]
            decided = [
                (c.decided_at - c.created_at).total_seconds()
                for c in group
                if c.decided_at is not None
            ]
            rows.append(
                {
                    "mode": mode.value,
                    "urgency": urgency.value,
                    "cases": len(group),
                    "first_answer": _durations(answered),
                    "decision": _durations(decided),
                }
            )
    return rows


def _durations(seconds: Sequence[float]) -> Json:
    return {
        "count": len(seconds),
        "median_seconds": percentile(seconds, 0.5),
        "p90_seconds": percentile(seconds, 0.9),
    }


def transfers(outcomes: Sequence[SignedOutcome]) -> Json:
    # Ordered by decision id: an amendment's answer replaces the one it amends.
    latest = {o.case_id: o.transfer for o in outcomes}
    decided = len(latest)
    kept = sum(1 for transfer in latest.values() if not transfer)
    return {
        "decided": decided,
        "without_transfer": kept,
        "share_without_transfer": kept / decided if decided else None,
    }


def authorize_admin(actor: Actor) -> None:
    if actor.user.role is not UserRole.ADMIN:
        raise Forbidden("Only administrators see the statistics.")


class StatsService:
    def __init__(self, work: AuditedWork, clock: Clock) -> None:
        self._work = work
        self._clock = clock

    async def overview(self, actor: Actor, query: StatsQuery) -> Json:
        async with self._work(actor, "stats.read") as unit:
            authorize_admin(actor)
            repo = StatsRepository(unit.db)
            cases = await repo.cases(query.since, query.until)
            outcomes = await repo.signed_outcomes(query.since, query.until)
            first_answers = await repo.first_answers(query.since, query.until)
            facilities = {f.id: f for f in await repo.facilities()}
        counts = Counter(c.facility_id for c in cases)
        return {
            "generated_at": self._clock.now().astimezone(UTC).isoformat(),
            "since": query.since.isoformat() if query.since else None,
            "until": query.until.isoformat() if query.until else None,
            "requests": len(cases),
            "per_facility": [
                {
                    "facility": {
                        "id": fid,
                        "code": facilities[fid].code,
                        "name": facilities[fid].name,
                    },
                    "requests": n,
                }
                for fid, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            ],
            "per_month": per_month(cases),
            "time_to_decision": time_to_decision(cases),
            "per_mode": per_mode(cases, first_answers),
            "transfer": transfers(outcomes),
        }
