"""A notification as an email: a line saying what happened, the case's title and a link,
and for a scheduled or cancelled session an iCalendar invitation. Nothing clinical beyond
the title (docs/security.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import icalendar

from telemed.notifications.models import Notification

VIETNAM = timezone(timedelta(hours=7))
# How long a session is shown in calendars (the council decides the real length).
SESSION_LENGTH = timedelta(hours=1)

# Per kind, in Vietnamese then English: {id}, {at} (the session time), {minutes}.
LINES: dict[str, tuple[str, str]] = {
    "case.requested": (
        "Yêu cầu hội chẩn mới: ca số {id}",
        "New consultation request: case no. {id}",
    ),
    "emergency": ("CẤP CỨU: yêu cầu hội chẩn ca số {id}", "EMERGENCY request: case no. {id}"),
    "case.info_requested": (
        "Hội đồng yêu cầu bổ sung thông tin cho ca số {id}",
        "The council asks for more information on case no. {id}",
    ),
    "case.accepted": (
        "Ca số {id} đã được hội đồng tiếp nhận",
        "Case no. {id} was accepted by the council",
    ),
    "case.declined": (
        "Ca số {id} đã bị hội đồng từ chối",
        "Case no. {id} was declined by the council",
    ),
    "case.scheduled": ("Lịch hội chẩn ca số {id}: {at}", "Case no. {id} is scheduled for {at}"),
    "session.cancelled": (
        "Đã hủy buổi hội chẩn ca số {id} lúc {at}",
        "The session of case no. {id} at {at} is cancelled",
    ),
    "session.reminder": (
        "Hội chẩn ca số {id} bắt đầu sau {minutes} phút ({at})",
        "The session of case no. {id} starts in {minutes} minutes ({at})",
    ),
    "case.deadline_near": (
        "Sắp đến hạn của hội đồng cho ca số {id}",
        "The council's deadline on case no. {id} is near",
    ),
    "case.deadline_passed": (
        "Đã quá hạn của hội đồng cho ca số {id}",
        "The council's deadline on case no. {id} has passed",
    ),
    "opinion.requested": (
        "Hội đồng xin ý kiến của bạn về ca số {id} (hội chẩn bằng văn bản)",
        "The council asks your opinion on case no. {id} (written consultation)",
    ),
    "decision.signed": (
        "Kết luận của hội đồng cho ca số {id} đã được ký",
        "The council's decision on case no. {id} is signed",
    ),
}
# Kinds that carry a calendar invitation, and its METHOD.
INVITATIONS = {"case.scheduled": "REQUEST", "session.cancelled": "CANCEL"}


def session_time(row: Notification) -> datetime | None:
    value = row.data.get("scheduled_at")
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _shown(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y (UTC+7)")


def session_uid(case_id: int, sender: str) -> str:
    """The same for every invitation of one case's session, so calendars update it."""
    domain = sender.rpartition("@")[2] or "telemed"
    return f"telemed-case-{case_id}-session@{domain}"


def invitation(
    row: Notification, *, sequence: int, sender: str, recipient: str, link: str, now: datetime
) -> tuple[str, str]:
    """The .ics text and its METHOD for a scheduled (REQUEST) or cancelled (CANCEL) session."""
    method = INVITATIONS[row.kind]
    start = session_time(row)
    assert start is not None, "an invitation needs the session's time"
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Telemed//Consultation sessions//VI")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = icalendar.Event()
    event.add("uid", session_uid(row.case_id, sender))
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", (start + SESSION_LENGTH).astimezone(UTC))
    event.add("summary", f"Hội chẩn ca số {row.case_id}: {row.title}")
    event.add("url", link)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = icalendar.vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = icalendar.vText("Telemed")
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{recipient}")
    attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical().decode(), method


def compose(
    row: Notification,
    *,
    recipient: str,
    sender: str,
    public_url: str,
    sequence: int,
    now: datetime,
) -> EmailMessage:
    """The email of one notification to ``recipient``; ``sequence`` numbers the session's
    invitations (0 first, one more for each change)."""
    vi, en = LINES.get(row.kind, ("Thông báo về ca số {id}", "Notice about case no. {id}"))
    values = {
        "id": row.case_id,
        "at": _shown(session_time(row)),
        "minutes": row.data.get("minutes_before", ""),
    }
    link = f"{public_url}/cases/{row.case_id}"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"Telemed: {vi.format(**values)}"
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_msgid("telemed", sender.rpartition("@")[2] or None)
    message.set_content(
        f"{vi.format(**values)}\n{en.format(**values)}\n\n"
        f"Ca / Case: {row.title}\n{link}\n\n"
        "-- \nTelemed. Thư này không chứa thông tin lâm sàng: mở liên kết để xem ca.\n"
        "This email carries no clinical information: open the link to see the case.\n"
    )
    if row.kind in INVITATIONS and session_time(row) is not None:
        text, method = invitation(
            row, sequence=sequence, sender=sender, recipient=recipient, link=link, now=now
        )
        message.add_alternative(text, subtype="calendar", params={"method": method})
    return message
