"""Everyone's time over the whole program: working hours, busy times and booked sessions.

Checking a year of occurrences against every attendee's hours is the planner's
inner loop. Each person's working hours are laid out once, in their own
wall-clock time (so DST lands where it really does), as sorted UTC spans;
questions about one occurrence are then a couple of binary searches.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from coachd.model.intervals import SortedSpans, merge
from coachd.plan.slots import Availability, Candidate, unsocial_minutes, working_intervals
from coachd.model.types import Attendee, BookedSeries, Interval


@lru_cache(maxsize=1024)
def _working_spans(person: Availability, horizon: Interval) -> SortedSpans:
    """A year of someone's working hours: the same every tick while the config stands, so laid out once."""
    return SortedSpans(working_intervals(person, horizon))


class Timelines:
    """Working hours and busy times of a program's people, and the sessions already booked for them.

    Sessions count as busy for their attendees, padded by the buffer, except
    when asking about the series itself (`exclude`), which must not collide
    with its own occurrences.
    """

    def __init__(self, availability: Mapping[str, Availability], busy: Mapping[str, Sequence[Interval]],
                 booked: Iterable[BookedSeries], horizon: Interval, buffer: timedelta) -> None:
        self.availability = availability
        self.horizon = horizon
        self.buffer = buffer
        self._external = {pid: SortedSpans(spans) for pid, spans in busy.items()}
        self._working: dict[str, SortedSpans] = {}
        self._sessions: dict[str, dict[str, list[Interval]]] = {}
        self._index: dict[str, _SessionIndex] = {}
        for series in booked:
            self.book(series)

    def book(self, series: BookedSeries) -> None:
        """Record (or replace) a series' occurrences as busy time of its attendees."""
        key = series.spec.key
        for pid, sessions in self._sessions.items():
            if sessions.pop(key, None) is not None:
                self._index.pop(pid, None)
        spans = [Interval(o.start - self.buffer, o.end + self.buffer) for o in series.occurrences() if not o.cancelled]
        for person in series.spec.everyone():
            self._sessions.setdefault(person.person_id, {})[key] = spans
            self._index.pop(person.person_id, None)

    def working(self, person_id: str) -> SortedSpans:
        if person_id not in self._working:
            self._working[person_id] = _working_spans(self.availability[person_id], self.horizon)
        return self._working[person_id]

    def _sessions_of(self, person_id: str) -> _SessionIndex:
        if person_id not in self._index:
            self._index[person_id] = _SessionIndex(self._sessions.get(person_id, {}))
        return self._index[person_id]

    def is_busy(self, person_id: str, span: Interval, exclude: str | None = None) -> bool:
        """Whether the person is busy during `span`: their own calendar, or a session of another series."""
        external = self._external.get(person_id)
        if external is not None and external.hits(span):
            return True
        return self._sessions_of(person_id).hits(span, exclude)

    def sessions_in(self, person_id: str, window: Interval) -> list[tuple[datetime, datetime, str]]:
        """(start, end, series key) of the person's booked sessions around `window`, buffers included."""
        return list(self._sessions_of(person_id)._around(window))

    def busy_in(self, person_id: str, window: Interval, exclude: str | None = None) -> list[Interval]:
        """Busy spans overlapping `window`, sessions of `exclude` left out."""
        external = self._external.get(person_id)
        spans = [s for s in (external.spans if external else ()) if s.end > window.start and s.start < window.end]
        spans.extend(self._sessions_of(person_id).within(window, exclude))
        return merge(spans)

    def people(self, attendees: Sequence[Attendee], exclude: str | None, window: Interval) -> list[Availability]:
        """Availabilities for slot finding in `window`, with busy times as this series sees them."""
        result = []
        for person in attendees:
            base = self.availability[person.person_id]
            busy = tuple(self.busy_in(person.person_id, window, exclude))
            result.append(Availability(base.person_id, base.zone, base.hours, base.days, busy))
        return result

    def cost(self, span: Interval, attendees: Sequence[Attendee], exclude: str | None) -> Candidate:
        """What meeting in `span` costs: out-of-hours minutes per person and who is busy then."""
        out_of_hours: dict[str, int] = {}
        conflicts: list[str] = []
        unsocial = 0
        for person in attendees:
            pid = person.person_id
            outside = span.duration - self.working(pid).covered(span)
            if outside:
                out_of_hours[pid] = int(outside.total_seconds() // 60)
                unsocial += unsocial_minutes(span, self.availability[pid])
            if self.is_busy(pid, span, exclude):
                conflicts.append(pid)
        return Candidate(span.start, span.end, out_of_hours, tuple(conflicts), unsocial)


class _SessionIndex:
    """One person's booked sessions, by start, each tagged with its series (they may overlap each other)."""

    def __init__(self, by_series: Mapping[str, list[Interval]]) -> None:
        self.entries = sorted((span.start, span.end, key) for key, spans in by_series.items() for span in spans)
        self.starts = [entry[0] for entry in self.entries]
        self.longest = max((end - start for start, end, _ in self.entries), default=timedelta(0))

    def _around(self, window: Interval) -> Iterator[tuple[datetime, datetime, str]]:
        first = bisect_left(self.starts, window.start - self.longest)
        for index in range(first, len(self.entries)):
            entry = self.entries[index]
            if entry[0] >= window.end:
                break
            if entry[1] > window.start:
                yield entry

    def hits(self, span: Interval, exclude: str | None) -> bool:
        return any(key != exclude for _, _, key in self._around(span))

    def within(self, window: Interval, exclude: str | None) -> list[Interval]:
        return [Interval(start, end) for start, end, key in self._around(window) if key != exclude]
