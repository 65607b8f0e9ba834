"""Slot finding: when can a set of people meet, ranked by who it costs what."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from coachd.model.intervals import SortedSpans, intersect, merge, overlap, subtract
from coachd.model.types import UTC, Interval

# Meetings start on the quarter hour of the host's clock; finer grids only add noise.
GRID = timedelta(minutes=15)
# Out of hours is a cost; out of hours at night is a worse one. The social day, in each person's own clock.
SOCIAL_DAY = (time(7, 0), time(21, 0))


@dataclass(frozen=True)
class Availability:
    """One attendee's constraints: working hours on working days in their zone, and busy spans."""

    person_id: str
    zone: ZoneInfo
    hours: tuple[time, time]
    days: frozenset[int]
    busy: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A possible meeting time and what it costs the attendees."""

    start: datetime
    end: datetime
    out_of_hours: dict[str, int] = field(default_factory=dict, compare=False)
    conflicts: tuple[str, ...] = ()
    # Minutes at night or on someone's day off: a tie-breaker between slots of equal burden.
    unsocial_minutes: int = field(default=0, compare=False)

    @property
    def burden_minutes(self) -> int:
        return sum(self.out_of_hours.values())

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)

    @property
    def strain(self) -> int:
        """Out-of-hours minutes, those at night or on a day off counted twice: what people feel.

        Slots of equal strain are equally acceptable: the planner may take turns
        among them, and leaves an occurrence alone while no slot that week is
        under its strain.
        """
        return self.burden_minutes + self.unsocial_minutes

    @property
    def fits_everyone(self) -> bool:
        return not self.conflicts and self.burden_minutes == 0


def working_intervals(person: Availability, window: Interval) -> list[Interval]:
    """The person's working hours inside `window`, as UTC spans, built in their own wall-clock time."""
    first = window.start.astimezone(person.zone).date() - timedelta(days=1)
    last = window.end.astimezone(person.zone).date() + timedelta(days=1)
    spans: list[Interval] = []
    day = first
    while day <= last:
        if day.weekday() in person.days:
            start = datetime.combine(day, person.hours[0], person.zone).astimezone(UTC)
            end = datetime.combine(day, person.hours[1], person.zone).astimezone(UTC)
            if start < end:
                spans.append(Interval(start, end))
        day += timedelta(days=1)
    return intersect(merge(spans), [window])


def _blackout_spans(days: Collection[date], zone: ZoneInfo, window: Interval) -> list[Interval]:
    spans = []
    for day in days:
        start = datetime.combine(day, time(0), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        if start < window.end and end > window.start:
            spans.append(Interval(start, end))
    return merge(spans)


def _align(instant: datetime, zone: ZoneInfo) -> datetime:
    """Round up to the next quarter hour of `zone`'s clock (zones with :30 and :45 offsets differ from UTC)."""
    local = instant.astimezone(zone)
    minutes = local.minute % 15
    if minutes == 0 and local.second == 0 and local.microsecond == 0:
        return instant
    bumped = local.replace(second=0, microsecond=0) + timedelta(minutes=15 - minutes)
    return bumped.astimezone(UTC)


def social_intervals(person: Availability, window: Interval) -> list[Interval]:
    """The person's social day (07:00-21:00 local) on their working days, as UTC spans."""
    spans = []
    day = window.start.astimezone(person.zone).date() - timedelta(days=1)
    while datetime.combine(day, time(0), person.zone) < window.end:
        if day.weekday() in person.days:
            spans.append(Interval(datetime.combine(day, SOCIAL_DAY[0], person.zone).astimezone(UTC),
                                  datetime.combine(day, SOCIAL_DAY[1], person.zone).astimezone(UTC)))
        day += timedelta(days=1)
    return spans


def unsocial_minutes(span: Interval, person: Availability) -> int:
    """Minutes of `span` outside the person's social day (07:00-21:00 local) or on their day off."""
    return int((span.duration - overlap(span, social_intervals(person, span))).total_seconds() // 60)


@dataclass(frozen=True)
class _Prepared:
    """One person's hours, social day and busy times around a window, laid out once for many candidates."""

    person: Availability
    hours: SortedSpans
    social: SortedSpans
    busy: SortedSpans

    @classmethod
    def around(cls, person: Availability, window: Interval) -> _Prepared:
        wide = Interval(window.start - timedelta(days=1), window.end + timedelta(days=1))
        return cls(person, SortedSpans(working_intervals(person, wide)),
                   SortedSpans(social_intervals(person, wide)), SortedSpans(person.busy))


def _cost(span: Interval, prepared: Sequence[_Prepared]) -> Candidate:
    out_of_hours: dict[str, int] = {}
    conflicts: list[str] = []
    unsocial = 0
    for p in prepared:
        outside = span.duration - p.hours.covered(span)
        if outside:
            out_of_hours[p.person.person_id] = int(outside.total_seconds() // 60)
            unsocial += int((span.duration - p.social.covered(span)).total_seconds() // 60)
        if p.busy.hits(span):
            conflicts.append(p.person.person_id)
    return Candidate(span.start, span.end, out_of_hours, tuple(conflicts), unsocial)


def evaluate(start: datetime, length: timedelta, people: Sequence[Availability], window: Interval) -> Candidate:
    """Cost of meeting at `start`: minutes outside each person's hours, and who is busy then."""
    span = Interval(start, start + length)
    return _cost(span, [_Prepared.around(person, span) for person in people])


def rank_key(candidate: Candidate, near: datetime | None = None) -> tuple:
    """Everyone in hours and free first; then fewest conflicts, least burden, least of it at night;
    then, where asked, closest to `near` (a moved occurrence stays close to where it was); then earliest."""
    distance = abs((candidate.start - near).total_seconds()) if near is not None else 0.0
    return (not candidate.fits_everyone, len(candidate.conflicts), candidate.burden_minutes,
            candidate.unsocial_minutes, distance, candidate.start)


def find_slots(
    people: Sequence[Availability],
    window: Interval,
    length: timedelta,
    *,
    host_zone: ZoneInfo,
    blackout: Collection[date] = (),
    blackout_zone: ZoneInfo | None = None,
    limit: int = 10,
    near: datetime | None = None,
) -> list[Candidate]:
    """Candidate slots in `window`, best first.

    Ranking (`rank_key`): everyone in hours and free, then the fewest busy
    conflicts, then the least out-of-hours minutes summed over attendees, then
    the fewest of those at night or on a day off, then closeness to `near`,
    then the earliest start. Where everyone can make it, candidates come from
    the intersection of free time; otherwise from the edges of each person's
    working day, which is where the least-burden slot must lie.
    """
    closed = _blackout_spans(blackout, blackout_zone or host_zone, window)
    open_window = subtract([window], closed)
    common = open_window
    for person in people:
        free = subtract(working_intervals(person, window), merge(person.busy))
        common = intersect(common, free)
    starts: list[datetime] = []
    for span in common:
        start = _align(span.start, host_zone)
        while start + length <= span.end:
            starts.append(start)
            start += GRID if near is not None else timedelta(hours=1)
        if near is not None and span.start <= near and near + length <= span.end:
            starts.append(near)
    if near is None and len(starts) > limit * 4:
        starts = _spread(starts, limit * 4)
    if not starts:
        starts = _edge_starts(people, open_window, length, host_zone)
    prepared = [_Prepared.around(person, window) for person in people]
    candidates = {_cost(Interval(s, s + length), prepared) for s in starts if _inside(s, length, open_window)}
    ranked = sorted(candidates, key=lambda c: rank_key(c, near))
    return ranked[:limit]


def _spread(starts: list[datetime], count: int) -> list[datetime]:
    """`count` starts taken evenly across the list, so later days stay in the running."""
    step = len(starts) / count
    return [starts[int(i * step)] for i in range(count)]


def _inside(start: datetime, length: timedelta, spans: Sequence[Interval]) -> bool:
    return any(s.start <= start and start + length <= s.end for s in spans)


def _edge_starts(
    people: Sequence[Availability], window: Sequence[Interval], length: timedelta, host_zone: ZoneInfo
) -> list[datetime]:
    """Where nobody's hours all meet: the edges of each working day, and a half-hour grid between them,
    since the least strain may lie where one person starts early and another stays late."""
    starts: set[datetime] = set()
    for person in people:
        for span in window:
            for hours in working_intervals(person, span):
                for edge in (hours.start, hours.end - length, hours.start - length / 2, hours.end - length / 2,
                             hours.start - length, hours.end):
                    starts.add(_align(edge, host_zone))
    for span in window:
        start = _align(span.start, host_zone)
        while start + length <= span.end:
            starts.add(start)
            start += 2 * GRID
    return sorted(starts)
