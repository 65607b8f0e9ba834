"""Slot finding: when can a set of people meet, ranked by who it costs what."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from coachd.model.intervals import intersect, merge, overlap, subtract
from coachd.model.span_arrays import Seconds, SpanArray, instant, seconds
from coachd.model.types import UTC, Interval

# Meetings start on the quarter hour of the host's clock; finer grids only add noise.
GRID = timedelta(minutes=15)
# Out of hours is a cost; out of hours at night is a worse one. The social day, in each person's own clock.
SOCIAL_DAY = (time(7, 0), time(21, 0))


@dataclass(frozen=True)
class Availability:
    """One attendee's constraints: working hours on working days in their zone, and busy spans
    (given as any Intervals, kept merged as a SpanArray: iterating it gives Intervals again)."""

    person_id: str
    zone: ZoneInfo
    hours: tuple[time, time]
    days: frozenset[int]
    busy: SpanArray = field(default_factory=SpanArray.empty)

    def __post_init__(self) -> None:
        if not isinstance(self.busy, SpanArray):
            object.__setattr__(self, "busy", SpanArray.of(self.busy))


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


# Each person's working hours and social day are laid out a calendar year at a time (with a margin),
# once: they do not change while the config stands, and every week's question is a slice of them.
_YEAR_MARGIN = timedelta(days=14)


@lru_cache(maxsize=4096)
def _year_of_days(zone: ZoneInfo, hours: tuple[time, time], days: frozenset[int], year: int) -> SpanArray:
    block = Interval(datetime(year, 1, 1, tzinfo=UTC) - _YEAR_MARGIN, datetime(year + 1, 1, 1, tzinfo=UTC) + _YEAR_MARGIN)
    return SpanArray.of(working_intervals(Availability("", zone, hours, days), block))


def _daily_spans(zone: ZoneInfo, hours: tuple[time, time], days: frozenset[int], window: Interval) -> SpanArray:
    """`hours` on `days` in `zone`, as spans covering `window` and a day either side."""
    year = window.start.year
    low = datetime(year, 1, 1, tzinfo=UTC) - _YEAR_MARGIN + timedelta(days=1)
    high = datetime(year + 1, 1, 1, tzinfo=UTC) + _YEAR_MARGIN - timedelta(days=1)
    if low <= window.start and window.end <= high:
        return _year_of_days(zone, hours, days, year)
    wide = Interval(window.start - timedelta(days=1), window.end + timedelta(days=1))
    return SpanArray.of(working_intervals(Availability("", zone, hours, days), wide))


def hours_spans(person: Availability, window: Interval) -> SpanArray:
    """The person's working hours around `window`."""
    return _daily_spans(person.zone, person.hours, person.days, window)


def social_spans(person: Availability, window: Interval) -> SpanArray:
    """The person's social day (07:00-21:00 local, working days) around `window`."""
    return _daily_spans(person.zone, SOCIAL_DAY, person.days, window)


@dataclass(frozen=True)
class Costs:
    """What meeting at each of many starts costs, person by person (seconds, arrays by start)."""

    starts: Seconds
    ends: Seconds
    people: tuple[str, ...]
    outside: tuple[Seconds, ...]  # minutes out of hours, per person
    unsocial: tuple[Seconds, ...]  # minutes out of the social day, counted where out of hours
    busy: tuple[np.ndarray, ...]  # whether busy, per person

    @property
    def burden(self) -> Seconds:
        return np.sum(self.outside, axis=0) if self.outside else np.zeros(len(self.starts), dtype=np.int64)

    @property
    def unsocial_total(self) -> Seconds:
        return np.sum(self.unsocial, axis=0) if self.unsocial else np.zeros(len(self.starts), dtype=np.int64)

    @property
    def conflict_count(self) -> Seconds:
        return np.sum(self.busy, axis=0) if self.busy else np.zeros(len(self.starts), dtype=np.int64)

    def candidate(self, index: int) -> Candidate:
        out = {pid: int(minutes[index]) for pid, minutes in zip(self.people, self.outside, strict=True)
               if minutes[index]}
        conflicts = tuple(pid for pid, busy in zip(self.people, self.busy, strict=True) if busy[index])
        unsocial = sum(int(minutes[index]) for minutes in self.unsocial)
        return Candidate(instant(self.starts[index]), instant(self.ends[index]), out, conflicts, unsocial)

    @property
    def fits(self) -> np.ndarray:
        return (self.conflict_count == 0) & (self.burden == 0)


def costs(people: Sequence[Availability], starts: Seconds, length: timedelta, window: Interval) -> Costs:
    """What meeting at each of `starts` (inside `window`) for `length` costs each person."""
    ends = starts + int(length.total_seconds())
    return costs_of(starts, ends, [(p.person_id, hours_spans(p, window), social_spans(p, window), p.busy)
                                   for p in people])


def costs_of(starts: Seconds, ends: Seconds, people: Sequence[tuple[str, SpanArray, SpanArray, SpanArray]]) -> Costs:
    """What meeting in each [starts[i], ends[i]) costs each of `people`: (id, working hours, social day, busy)."""
    durations = ends - starts
    outside, unsocial, busy = [], [], []
    for _, hours, social, taken in people:
        out = durations - hours.covered(starts, ends)
        outside.append(out // 60)
        night = (durations - social.covered(starts, ends)) // 60
        unsocial.append(np.where(out > 0, night, 0))
        busy.append(taken.hits(starts, ends))
    return Costs(starts, ends, tuple(p[0] for p in people), tuple(outside), tuple(unsocial), tuple(busy))


def evaluate(start: datetime, length: timedelta, people: Sequence[Availability], window: Interval) -> Candidate:
    """Cost of meeting at `start`: minutes outside each person's hours, and who is busy then."""
    return costs(people, np.array([seconds(start)], dtype=np.int64), length, window).candidate(0)


def rank_key(candidate: Candidate, near: datetime | None = None) -> tuple:
    """Everyone in hours and free first; then fewest conflicts, least burden, least of it at night;
    then, where asked, closest to `near` (a moved occurrence stays close to where it was); then earliest."""
    distance = abs((candidate.start - near).total_seconds()) if near is not None else 0.0
    return (not candidate.fits_everyone, len(candidate.conflicts), candidate.burden_minutes,
            candidate.unsocial_minutes, distance, candidate.start)


def ranked(found: Costs, near: datetime | None, limit: int) -> list[Candidate]:
    """The `limit` best of `found` by `rank_key`, best first."""
    if len(found.starts) == 0:
        return []
    burden, unsocial, conflicts = found.burden, found.unsocial_total, found.conflict_count
    fits = found.fits
    distance = np.abs(found.starts - seconds(near)) if near is not None else np.zeros(len(found.starts), dtype=np.int64)
    # lexsort: the last key is the first compared.
    order = np.lexsort((found.starts, distance, unsocial, burden, conflicts, ~fits))
    return [found.candidate(int(i)) for i in order[:limit]]


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
    low, high = seconds(window.start), seconds(window.end)
    seconds_long = int(length.total_seconds())
    # Where everyone is free and in hours: the window less, for anyone, their busy times and the time
    # outside their hours, and less the blackout days.
    blocked = [SpanArray.of(closed)]
    for person in people:
        hours = hours_spans(person, window).within(window)
        blocked.append(SpanArray(np.concatenate(([low], hours.ends)), np.concatenate((hours.starts, [high]))))
        blocked.append(person.busy.within(window))
    taken = SpanArray.union(blocked)
    common_starts = np.concatenate(([low], taken.ends))
    common_ends = np.concatenate((taken.starts, [high]))
    keep = (np.maximum(common_starts, low) < np.minimum(common_ends, high))
    common_starts, common_ends = np.maximum(common_starts[keep], low), np.minimum(common_ends[keep], high)
    step = int(GRID.total_seconds()) if near is not None else 3600
    pieces = []
    for span_start, span_end in zip(common_starts.tolist(), common_ends.tolist(), strict=True):
        first = _align_seconds(span_start, host_zone)
        if first + seconds_long <= span_end:
            pieces.append(np.arange(first, span_end - seconds_long + 1, step, dtype=np.int64))
        if near is not None:
            at = seconds(near)
            if span_start <= at and at + seconds_long <= span_end:
                pieces.append(np.array([at], dtype=np.int64))
    starts = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    if near is None and len(starts) > limit * 4:
        starts = _spread(starts, limit * 4)
    if len(starts) == 0:
        starts = _edge_starts(people, open_window, length, host_zone)
    starts = np.unique(starts)
    opened = SpanArray.of(open_window)
    starts = starts[opened.covered(starts, starts + seconds_long) == seconds_long]
    return ranked(costs(people, starts, length, window), near, limit)


def _spread(starts: Seconds, count: int) -> Seconds:
    """`count` starts taken evenly across the list, so later days stay in the running."""
    step = len(starts) / count
    return starts[[int(i * step) for i in range(count)]]


@lru_cache(maxsize=256)
def _quarter_hour_offsets(zone: ZoneInfo, year: int) -> bool:
    """Whether `zone`'s offset from UTC is a whole number of quarter hours all year (every zone in use
    today): then a quarter hour of its clock is a quarter hour of UTC, and aligning needs no conversion."""
    day = datetime(year, 1, 1, 12, tzinfo=UTC)
    for _ in range(367):
        offset = day.astimezone(zone).utcoffset()
        if offset is None or offset.total_seconds() % 900:
            return False
        day += timedelta(days=1)
    return True


def _align_seconds(moment: int, zone: ZoneInfo) -> int:
    """`_align` on epoch seconds."""
    if _quarter_hour_offsets(zone, instant(moment).year):
        return -(-moment // 900) * 900
    return seconds(_align(instant(moment), zone))


def _edge_starts(
    people: Sequence[Availability], window: Sequence[Interval], length: timedelta, host_zone: ZoneInfo
) -> Seconds:
    """Where nobody's hours all meet: the edges of each working day, and a half-hour grid between them,
    since the least strain may lie where one person starts early and another stays late."""
    seconds_long = int(length.total_seconds())
    pieces = []
    for person in people:
        for span in window:
            hours = hours_spans(person, span).within(span)
            low, high = seconds(span.start), seconds(span.end)
            begin, end = np.maximum(hours.starts, low), np.minimum(hours.ends, high)
            half = seconds_long // 2
            pieces.extend((begin, end - seconds_long, begin - half, end - half, begin - seconds_long, end))
    for span in window:
        first = _align_seconds(seconds(span.start), host_zone)
        last = seconds(span.end) - seconds_long
        if first <= last:
            pieces.append(np.arange(first, last + 1, 2 * int(GRID.total_seconds()), dtype=np.int64))
    if not pieces:
        return np.zeros(0, dtype=np.int64)
    edges = np.unique(np.concatenate(pieces))
    return _aligned(edges, host_zone)


def _aligned(moments: Seconds, zone: ZoneInfo) -> Seconds:
    """`_align` on many epoch seconds: each rounded up to the next quarter hour of `zone`'s clock."""
    if not len(moments):
        return moments
    years = range(instant(int(moments[0])).year, instant(int(moments[-1])).year + 1)
    if all(_quarter_hour_offsets(zone, year) for year in years):
        return np.unique(-(-moments // 900) * 900)
    return np.unique(np.array([_align_seconds(int(m), zone) for m in moments.tolist()], dtype=np.int64))
