"""The organizer's calendar is the truth: adopt what people changed there by hand, and read who declined.

Pure functions from a booked series and what the calendar now holds for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from coachd.model.types import BookedSeries, Override, to_utc


@dataclass(frozen=True)
class CalendarView:
    """What the calendar holds for one of our series (a provider's entry, reduced to what matters here)."""

    cancelled: bool
    exdates: tuple[datetime, ...]
    overrides: tuple[Override, ...]
    attendees: Mapping[str, str]  # lower-case email -> PARTSTAT on the series
    occurrence_attendees: Mapping[datetime, Mapping[str, str]]  # per RECURRENCE-ID with its own event


@dataclass(frozen=True)
class Decline:
    """People who declined one occurrence at the time it then had."""

    start: datetime
    people: frozenset[str]


def _shape(overrides: tuple[Override, ...], length: timedelta) -> dict[datetime, tuple[datetime, datetime, bool]]:
    """Overrides that change something. An exception at the original time (what Google and Outlook
    create when someone merely answers for one occurrence) changes nothing."""
    shaped = {}
    for o in overrides:
        rid = to_utc(o.recurrence_id)
        value = (to_utc(o.start), to_utc(o.end), o.cancelled)
        if value != (rid, rid + length, False):
            shaped[rid] = value
    return shaped


def adopt(booked: BookedSeries, calendar: CalendarView) -> BookedSeries | None:
    """The series as the calendar now has it, when someone changed it there; None when it agrees with us.

    Occurrences moved or cancelled by hand are pinned so that coachd does not move them back.
    """
    if booked.cancelled:
        return None
    if calendar.cancelled:
        return booked.bumped(cancelled=True)
    length = booked.spec.length
    ours, theirs = _shape(booked.overrides, length), _shape(calendar.overrides, length)
    exdates = {to_utc(d) for d in calendar.exdates}
    if ours == theirs and exdates == {to_utc(d) for d in booked.spec.exdates}:
        return None
    pinned = {to_utc(o.recurrence_id) for o in booked.overrides if o.pinned}
    overrides = tuple(
        Override(rid, start, end, cancelled, pinned=rid in pinned or ours.get(rid) != (start, end, cancelled))
        for rid, (start, end, cancelled) in sorted(theirs.items()))
    spec = replace(booked.spec, exdates=tuple(sorted(exdates)))
    return booked.bumped(spec=spec, overrides=overrides)


def declines(booked: BookedSeries, calendar: CalendarView, people_by_email: Mapping[str, str],
             since: datetime) -> dict[str, Decline]:
    """Session id -> who declined that one occurrence, for occurrences from `since` on.

    Only declines of single occurrences count: moving every occurrence of a series someone declined
    as a whole would never settle (they decline the moved ones too); that is a conversation, not a move.
    """
    found: dict[str, Decline] = {}
    for occurrence in booked.occurrences():
        if occurrence.cancelled or occurrence.start < since:
            continue
        statuses = calendar.occurrence_attendees.get(occurrence.recurrence_id, {})
        people = frozenset(people_by_email[email] for email, status in statuses.items()
                           if status == "DECLINED" and email in people_by_email)
        if people:
            found[occurrence.session_id] = Decline(occurrence.start, people)
    return found


def series_decliners(calendar: CalendarView, people_by_email: Mapping[str, str]) -> frozenset[str]:
    """Who declined the series as a whole (their answer on the master event)."""
    return frozenset(people_by_email[email] for email, status in calendar.attendees.items()
                     if status == "DECLINED" and email in people_by_email)
