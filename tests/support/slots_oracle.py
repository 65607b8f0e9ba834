"""The first, plain-Python slot finder, kept as the oracle the vectorised one (coachd.plan.slots) must agree with.

Every candidate is costed one at a time against sorted spans: slow (bench_slots.py measured 1.5 s for a
year of a 20-person group) but easy to read and check. tests/unit/test_slot_oracle.py compares the two
on random programs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from coachd.model.intervals import SortedSpans, intersect, merge, subtract
from coachd.model.types import Interval
from coachd.plan.slots import (
    GRID,
    Availability,
    Candidate,
    _align,
    _blackout_spans,
    rank_key,
    social_intervals,
    working_intervals,
)


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
                   SortedSpans(social_intervals(person, wide)), SortedSpans(list(person.busy)))


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
