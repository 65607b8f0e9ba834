"""Calendar answers sent by email (iTIP REPLY): who declined which occurrence, as the planner reads declines.

Google and Microsoft apply such answers to the organizer's calendar themselves, and the calendar
sync reads them there; with coachd's own (local) calendar nobody else does, so the answers kept
from the inbox are folded in here. The latest answer of a person for an occurrence wins: a decline
taken back by a later accept no longer counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from coachd.plan.calendar_truth import Decline
from coachd.model.observed import Booking, ReplyFact
from coachd.model.types import ical_utc


def rsvp_declines(replies: Sequence[ReplyFact], bookings: Mapping[str, Booking]) -> dict[str, Decline]:
    """Session id -> the people whose latest emailed answer for that occurrence is a decline."""
    latest: dict[tuple[str, str], tuple[str, str | None]] = {}
    for reply in sorted((r for r in replies if r.request_kind == "rsvp"), key=lambda r: r.received_at):
        for response in reply.payload.get("responses", ()):  # type: ignore[union-attr]
            rid = response.get("recurrence_id")
            if not rid:
                continue  # a whole series declined is a conversation, not a move (see calendar_truth)
            session_id = f"{response['uid']}/{ical_utc(datetime.fromisoformat(rid))}"
            person = str(response.get("person") or reply.person_id)
            latest[(session_id, person)] = (str(response.get("partstat")), response.get("start"))
    if not latest:
        return {}  # the usual case: no emailed calendar answers, so no set of every occurrence to build
    booked = {o.session_id for b in bookings.values() for o in b.series.occurrences()}
    # Grouped by the time answered for: a decline of the time an occurrence had when it was answered.
    found: dict[tuple[str, str], set[str]] = {}
    for (session_id, person), (partstat, start) in latest.items():
        if partstat == "DECLINED" and start and session_id in booked:
            found.setdefault((session_id, start), set()).add(person)
    declines: dict[str, Decline] = {}
    for (session_id, start), people in sorted(found.items()):
        declines[session_id] = Decline(datetime.fromisoformat(start), frozenset(people))  # the latest time wins
    return declines


def merge_declines(calendar: Mapping[str, Decline], emailed: Mapping[str, Decline]) -> dict[str, Decline]:
    """Declines seen in the calendar and answered by email, together."""
    merged = dict(calendar)
    for session_id, decline in emailed.items():
        known = merged.get(session_id)
        merged[session_id] = decline if known is None else Decline(known.start, known.people | decline.people)
    return merged
