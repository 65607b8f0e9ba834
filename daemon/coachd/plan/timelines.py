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

from coachd.model.span_arrays import Seconds, SpanArray, seconds
from coachd.model.types import Attendee, BookedSeries, Interval
from coachd.plan.slots import SOCIAL_DAY, Availability, Candidate, Costs, costs_of, working_intervals


@lru_cache(maxsize=1024)
def _days_of(person: Availability, horizon: Interval) -> tuple[SpanArray, SpanArray]:
    """Someone's working hours and social day over the program: the same every tick while the config
    stands, so laid out once."""
    wide = Interval(horizon.start - timedelta(days=1), horizon.end + timedelta(days=1))
    social = Availability(person.person_id, person.zone, SOCIAL_DAY, person.days)
    return SpanArray.of(working_intervals(person, wide)), SpanArray.of(working_intervals(social, wide))


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
        self._external = {pid: SpanArray.of(spans) for pid, spans in busy.items()}
        self._sessions: dict[str, dict[str, list[Interval]]] = {}
        self._index: dict[str, _SessionIndex] = {}
        # (person, series left out) -> their busy time: calendar and other sessions, as costs need it.
        self._busy: dict[tuple[str, str | None], SpanArray] = {}
        for series in booked:
            self.book(series)

    def book(self, series: BookedSeries) -> None:
        """Record (or replace) a series' occurrences as busy time of its attendees."""
        key = series.spec.key
        for pid, sessions in self._sessions.items():
            if sessions.pop(key, None) is not None:
                self._forget(pid)
        spans = [Interval(o.start - self.buffer, o.end + self.buffer) for o in series.occurrences() if not o.cancelled]
        for person in series.spec.everyone():
            self._sessions.setdefault(person.person_id, {})[key] = spans
            self._forget(person.person_id)

    def _forget(self, person_id: str) -> None:
        self._index.pop(person_id, None)
        for cached in [k for k in self._busy if k[0] == person_id]:
            del self._busy[cached]

    def _sessions_of(self, person_id: str) -> _SessionIndex:
        if person_id not in self._index:
            self._index[person_id] = _SessionIndex(self._sessions.get(person_id, {}))
        return self._index[person_id]

    def _all_busy(self, person_id: str, exclude: str | None) -> SpanArray:
        key = (person_id, exclude)
        if key not in self._busy:
            sessions = [span for series, spans in self._sessions.get(person_id, {}).items() if series != exclude
                        for span in spans]
            external = self._external.get(person_id)
            self._busy[key] = SpanArray.union([external if external is not None else SpanArray.empty(),
                                               SpanArray.of(sessions)])
        return self._busy[key]

    def is_busy(self, person_id: str, span: Interval, exclude: str | None = None) -> bool:
        """Whether the person is busy during `span`: their own calendar, or a session of another series."""
        external = self._external.get(person_id)
        if external is not None and external.hits_one(span):
            return True
        return self._sessions_of(person_id).hits(span, exclude)

    def sessions_in(self, person_id: str, window: Interval) -> list[tuple[datetime, datetime, str]]:
        """(start, end, series key) of the person's booked sessions around `window`, buffers included."""
        return list(self._sessions_of(person_id)._around(window))

    def busy_in(self, person_id: str, window: Interval, exclude: str | None = None) -> list[Interval]:
        """Busy spans overlapping `window`, sessions of `exclude` left out."""
        return list(self._all_busy(person_id, exclude).within(window))

    def people(self, attendees: Sequence[Attendee], exclude: str | None, window: Interval) -> list[Availability]:
        """Availabilities for slot finding in `window`, with busy times as this series sees them."""
        result = []
        for person in attendees:
            base = self.availability[person.person_id]
            busy = self._all_busy(person.person_id, exclude).within(window)
            result.append(Availability(base.person_id, base.zone, base.hours, base.days, busy))
        return result

    def costs(self, starts: Seconds, ends: Seconds, attendees: Sequence[Attendee], exclude: str | None) -> Costs:
        """What meeting in each [starts[i], ends[i]) costs: out-of-hours minutes per person and who is busy."""
        people = []
        for person in attendees:
            pid = person.person_id
            hours, social = _days_of(self.availability[pid], self.horizon)
            people.append((pid, hours, social, self._all_busy(pid, exclude)))
        return costs_of(starts, ends, people)

    def cost(self, span: Interval, attendees: Sequence[Attendee], exclude: str | None) -> Candidate:
        """What meeting in `span` costs: out-of-hours minutes per person and who is busy then
        (`costs` for one span, without numpy's cost per call: repairs ask this for every occurrence)."""
        start, end = seconds(span.start), seconds(span.end)
        duration = end - start
        out_of_hours: dict[str, int] = {}
        conflicts: list[str] = []
        unsocial = 0
        for person in attendees:
            pid = person.person_id
            hours, social = _days_of(self.availability[pid], self.horizon)
            outside = duration - hours.covered_one(start, end)
            if outside:
                out_of_hours[pid] = outside // 60
                unsocial += (duration - social.covered_one(start, end)) // 60
            if self._all_busy(pid, exclude).hits_seconds(start, end):
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
