"""Domain values shared by the core, the store and the providers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from functools import cached_property
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


class SessionKind(str, enum.Enum):
    """The kinds of session a program books, as named in the config's `sessions:`."""

    KICKOFF = "kickoff"
    GROUP = "group"
    INDIVIDUAL = "individual"
    CIRCLE = "circle"
    SPONSOR_REVIEW = "sponsor_review"
    WRAPUP = "wrapup"
    CHECK_IN = "check_in"  # short extra one-to-ones while a coachee's state asks for more contact


class Role(str, enum.Enum):
    COACH = "coach"
    COACHEE = "coachee"
    SPONSOR = "sponsor"


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Reject naive datetimes at the boundary where they would silently mean local time."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value


def to_utc(value: datetime) -> datetime:
    return require_aware(value).astimezone(UTC)


def ical_utc(value: datetime) -> str:
    """The iCalendar UTC form used in session ids: 20270111T150000Z."""
    return to_utc(value).strftime("%Y%m%dT%H%M%SZ")


def parse_ical_utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span [start, end) of absolute time."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        require_aware(self.start, "Interval.start")
        require_aware(self.end, "Interval.end")
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start} > {self.end}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Attendee:
    """A person as a session sees them: who, where to write, which zone to show times in."""

    person_id: str
    name: str
    email: str
    timezone: str
    role: Role

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Occurrence:
    """One meeting of a series. `recurrence_id` is its original start, which never changes."""

    series_uid: str
    kind: SessionKind
    recurrence_id: datetime
    start: datetime
    end: datetime
    cancelled: bool = False

    @property
    def session_id(self) -> str:
        return f"{self.series_uid}/{ical_utc(self.recurrence_id)}"

    @property
    def moved(self) -> bool:
        return self.start != self.recurrence_id

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


def split_session_id(session_id: str) -> tuple[str, datetime]:
    uid, _, rid = session_id.rpartition("/")
    if not uid:
        raise ValueError(f"not a session id (UID/RECURRENCE-ID): {session_id!r}")
    return uid, parse_ical_utc(rid)


@dataclass(frozen=True)
class Override:
    """A change to one occurrence of a series: moved to another time, or cancelled.

    `pinned` marks a change someone made by hand in the organizer's calendar: the
    calendar is the truth, and coachd plans around it instead of moving it again.
    """

    recurrence_id: datetime
    start: datetime
    end: datetime
    cancelled: bool = False
    pinned: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class SeriesSpec:
    """A recurring (or single) session as planned: what the calendar should hold.

    `start` is the first occurrence's start in the series' own zone; the rule
    repeats in that zone's wall-clock time, as iCalendar does, so a 10:00
    Chicago meeting stays at 10:00 Chicago across DST.
    """

    key: str
    uid: str
    kind: SessionKind
    title: str
    timezone: str
    start: datetime
    length: timedelta
    host: Attendee
    attendees: tuple[Attendee, ...]
    every: timedelta | None = None
    until: datetime | None = None
    exdates: tuple[datetime, ...] = ()
    team_id: str | None = None
    description: str = ""
    # People taken off the series by a config change: each is told once that it is cancelled for them.
    former: tuple[Attendee, ...] = ()
    # Ended early by coachd (its team or person left the config): nothing after `until` remains.
    ended: bool = False

    def __post_init__(self) -> None:
        require_aware(self.start, "SeriesSpec.start")
        if self.until is not None:
            require_aware(self.until, "SeriesSpec.until")
        if self.every is not None and (self.every.days % 7 or self.every.seconds or self.every.days == 0):
            raise ValueError(f"series cadence must be whole weeks, got {self.every}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def interval_weeks(self) -> int | None:
        return None if self.every is None else self.every.days // 7

    def rrule(self) -> str | None:
        """The RRULE value for the calendar, or None for a single event."""
        if self.every is None:
            return None
        rule = f"FREQ=WEEKLY;INTERVAL={self.interval_weeks}"
        if self.until is not None:
            rule += f";UNTIL={ical_utc(self.until)}"
        return rule

    def everyone(self) -> tuple[Attendee, ...]:
        """Host first, then the other attendees, without repeats."""
        seen = {self.host.person_id}
        rest = tuple(a for a in self.attendees if not (a.person_id in seen or seen.add(a.person_id)))
        return (self.host, *rest)

    def original_starts(self) -> list[datetime]:
        """Every original start (RECURRENCE-ID), excluded dates included, in UTC."""
        local = self.start.astimezone(self.zone).replace(tzinfo=None)
        if self.every is None:
            return [to_utc(self.start)]
        starts: list[datetime] = []
        step = self.every
        current = local
        limit = to_utc(self.until) if self.until is not None else None
        while True:
            aware = current.replace(tzinfo=self.zone)
            if limit is not None and to_utc(aware) > limit:
                break
            starts.append(to_utc(aware))
            if limit is None and len(starts) >= 520:
                break
            current += step
        return starts

    def occurrences(self, overrides: tuple[Override, ...] = ()) -> list[Occurrence]:
        """Occurrences after exclusions, with overrides applied, sorted by start."""
        excluded = {to_utc(d) for d in self.exdates}
        by_rid = {to_utc(o.recurrence_id): o for o in overrides}
        result = []
        for rid in self.original_starts():
            if rid in excluded:
                continue
            override = by_rid.get(rid)
            if override is None:
                result.append(Occurrence(self.uid, self.kind, rid, rid, rid + self.length))
            else:
                result.append(
                    Occurrence(self.uid, self.kind, rid, to_utc(override.start), to_utc(override.end), override.cancelled)
                )
        return sorted(result, key=lambda o: o.start)


@dataclass(frozen=True)
class BookedSeries:
    """A series as the organizer's calendar holds it: the spec plus iTIP bookkeeping."""

    spec: SeriesSpec
    sequence: int = 0
    overrides: tuple[Override, ...] = field(default_factory=tuple)
    cancelled: bool = False

    def occurrences(self) -> list[Occurrence]:
        return list(self._occurrences)

    @cached_property
    def _occurrences(self) -> tuple[Occurrence, ...]:
        # Values are immutable, so the expansion is computed once per booked series.
        if self.cancelled:
            return ()
        return tuple(self.spec.occurrences(self.overrides))

    def bumped(self, **changes: object) -> BookedSeries:
        return replace(self, sequence=self.sequence + 1, **changes)
