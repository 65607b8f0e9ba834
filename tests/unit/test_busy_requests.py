"""Busy times asked for many people at once, split to the provider's window and batch limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachd.model.types import UTC, Interval
from coachd.providers.base import BusyLimits, BusyPerson, BusyProvider, BusySourceError, BusyTimes
from coachd.providers.busy import CombinedBusy, EachPersonBusy, ask_within_limits, split_requests

T0 = datetime(2027, 1, 4, tzinfo=UTC)


def people(n: int) -> list[BusyPerson]:
    return [BusyPerson(f"p{i}", f"p{i}@northwind.example") for i in range(n)]


limits = st.builds(
    BusyLimits,
    max_window=st.none() | st.integers(60, 60 * 24 * 40).map(lambda m: timedelta(minutes=m)),
    max_batch=st.none() | st.integers(1, 12),
)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 20), minutes=st.integers(0, 60 * 24 * 60), limits=limits)
def test_every_person_and_instant_is_asked_exactly_once_within_the_limits(n, minutes, limits):
    everyone, window = people(n), Interval(T0, T0 + timedelta(minutes=minutes))
    requests = split_requests(everyone, window, limits)
    for request in requests:
        assert window.start <= request.window.start < request.window.end <= window.end
        if limits.max_window is not None:
            assert request.window.end - request.window.start <= limits.max_window
        if limits.max_batch is not None:
            assert 1 <= len(request.people) <= limits.max_batch
    for person in everyone:
        # Each person's windows, in order, tile the whole window: no gap, no overlap.
        spans = sorted(r.window for r in requests if person in r.people)
        assert all(r.people.count(person) <= 1 for r in requests)
        if minutes == 0:
            assert spans == []
            continue
        assert spans[0].start == window.start and spans[-1].end == window.end
        assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert all(p in everyone for r in requests for p in r.people)


def test_limits_must_allow_a_request():
    with pytest.raises(ValueError, match="max_batch"):
        split_requests(people(2), Interval(T0, T0 + timedelta(days=1)), BusyLimits(max_batch=0))


class Recording:
    """A provider with limits that records its requests and answers from a fixed calendar."""

    def __init__(self, busy: dict[str, list[Interval]], limits: BusyLimits, failing: frozenset[str] = frozenset()):
        self.calendar, self.limits, self.failing = busy, limits, failing
        self.requests: list[tuple[tuple[str, ...], Interval]] = []

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        assert self.limits.max_batch is None or len(people) <= self.limits.max_batch
        assert self.limits.max_window is None or window.end - window.start <= self.limits.max_window
        self.requests.append((tuple(p.id for p in people), window))
        answer = BusyTimes()
        for p in people:
            if p.id in self.failing:
                answer.failures[p.id] = BusySourceError(p.id, "test", "unreadable")
                continue
            answer[p.id] = [Interval(max(i.start, window.start), min(i.end, window.end))
                            for i in self.calendar.get(p.id, []) if i.start < window.end and i.end > window.start]
        return answer


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_answers_cut_at_a_request_edge_are_joined_again():
    provider = Recording({"p0": [Interval(at(20), at(30))], "p1": [Interval(at(1), at(2))]},
                         BusyLimits(max_window=timedelta(hours=24), max_batch=1))
    assert isinstance(provider, BusyProvider)
    answer = ask_within_limits(provider, people(3), Interval(at(0), at(72)))
    assert answer == {"p0": [Interval(at(20), at(30))], "p1": [Interval(at(1), at(2))], "p2": []}
    assert len(provider.requests) == 9 and not answer.failures


def test_a_person_who_cannot_be_read_is_a_failure_and_the_others_are_answered():
    provider = Recording({"p0": [Interval(at(1), at(2))]}, BusyLimits(max_window=timedelta(hours=24)),
                         failing=frozenset({"p1"}))
    answer = ask_within_limits(provider, people(2), Interval(at(0), at(48)))
    assert answer == {"p0": [Interval(at(1), at(2))]}
    assert set(answer.failures) == {"p1"}


class FakeSource:
    """A per-person source (the BusySource role of ICS files and feeds)."""

    def __init__(self, busy: dict[str, list[Interval]], broken: str | None = None):
        self.busy_by_person, self.broken = busy, broken

    def busy(self, person_id: str, window: Interval) -> list[Interval]:
        if person_id == self.broken:
            raise BusySourceError(person_id, "maria.ics", "file not found")
        return list(self.busy_by_person.get(person_id, []))

    def busy_many(self, person_ids, window):  # pragma: no cover - the Protocol's default
        return {p: self.busy(p, window) for p in person_ids}


def test_per_person_sources_answer_the_role_person_by_person():
    provider = EachPersonBusy(FakeSource({"p0": [Interval(at(1), at(2))]}, broken="p1"))
    assert isinstance(provider, BusyProvider) and provider.limits == BusyLimits()
    answer = ask_within_limits(provider, people(3), Interval(at(0), at(48)))
    assert answer == {"p0": [Interval(at(1), at(2))], "p2": []}
    assert str(answer.failures["p1"]) == "busy times of 'p1' from maria.ics: file not found"


def test_combined_providers_are_busy_when_either_says_so():
    organizer_wide = Recording({"p0": [Interval(at(1), at(3))], "p1": [Interval(at(5), at(6))]},
                               BusyLimits(max_batch=1))
    own = EachPersonBusy(FakeSource({"p0": [Interval(at(2), at(4))]}, broken="p2"))
    answer = ask_within_limits(CombinedBusy(organizer_wide, own), people(3), Interval(at(0), at(24)))
    assert answer == {"p0": [Interval(at(1), at(4))], "p1": [Interval(at(5), at(6))]}
    assert set(answer.failures) == {"p2"}
    assert [r[0] for r in organizer_wide.requests] == [("p0",), ("p1",), ("p2",)]
