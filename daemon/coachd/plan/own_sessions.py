"""coachd's own sessions taken out of busy times read from people's calendars (Google or Graph free/busy).

Free/busy read from a person's own calendar includes the events they were invited to, so every session
coachd booked is there too. Taken as it is, each series would collide with itself (and be moved about
for nothing). The planner already counts booked sessions as busy on their own (Timelines: for every
series but the one being placed or repaired), so the calendar's copy of them is removed here and a
person's other series at the same time stays a conflict.

Free/busy carries no event ids: a block is removed where it covers one of the person's own occurrences
exactly in time. What the person also has at that very time (a double booking they accepted) cannot be
told apart and is removed with it; a decline of coachd's session still reaches the planner as a decline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from coachd.model.intervals import merge, subtract
from coachd.model.types import BookedSeries, Interval


def sessions_by_person(booked: Iterable[BookedSeries]) -> dict[str, list[Interval]]:
    """Person id -> the spans of every occurrence (not cancelled) of the series they attend, merged."""
    spans: dict[str, list[Interval]] = {}
    for series in booked:
        occurrences = [o.interval for o in series.occurrences() if not o.cancelled]
        if not occurrences:
            continue
        for attendee in series.spec.everyone():
            spans.setdefault(attendee.person_id, []).extend(occurrences)
    return {pid: merge(found) for pid, found in spans.items()}


def without_own_sessions(busy: Mapping[str, Sequence[Interval]],
                         booked: Iterable[BookedSeries]) -> dict[str, list[Interval]]:
    """`busy` with each person's own booked occurrences cut out (times outside them are kept)."""
    own = sessions_by_person(booked)
    result: dict[str, list[Interval]] = {}
    for pid, spans in busy.items():
        holes = own.get(pid)
        result[pid] = subtract(merge(spans), holes) if holes else list(spans)
    return result
