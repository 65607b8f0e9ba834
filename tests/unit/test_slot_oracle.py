"""The vectorised slot finder agrees with the plain one (tests/support/slots_oracle.py) on random people:
same candidates, same order, same costs, whoever is in conflict and out of hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachd.model.types import Interval
from coachd.plan.slots import Availability, Candidate, find_slots
from tests.support import slots_oracle

ZONES = ("America/Los_Angeles", "America/Chicago", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
         "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide", "Australia/Sydney", "Pacific/Auckland",
         "Australia/Lord_Howe", "Pacific/Chatham")
# Around the March and April clock changes of both hemispheres, where slots go wrong first.
BASE = datetime(2027, 3, 8, tzinfo=UTC)


@st.composite
def person(draw: st.DrawFn, index: int) -> Availability:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    begin = draw(st.integers(6, 11))
    end = draw(st.integers(begin + 4, min(begin + 11, 23)))
    days = frozenset(draw(st.sets(st.integers(0, 6), min_size=3, max_size=7)))
    busy = []
    for _ in range(draw(st.integers(0, 25))):
        start = BASE + timedelta(minutes=15 * draw(st.integers(0, 4 * 24 * 42)))
        busy.append(Interval(start, start + timedelta(minutes=draw(st.sampled_from((15, 30, 45, 60, 90, 240))))))
    return Availability(f"p{index}", zone, (time(begin), time(end)), days, tuple(busy))


@st.composite
def problem(draw: st.DrawFn) -> dict:
    count = draw(st.integers(1, 6))
    people = [draw(person(n)) for n in range(count)]
    first = BASE + timedelta(days=draw(st.integers(0, 35)), hours=draw(st.integers(0, 23)))
    window = Interval(first, first + timedelta(days=draw(st.integers(1, 7))))
    length = timedelta(minutes=draw(st.sampled_from((30, 45, 60, 90))))
    near = None
    if draw(st.booleans()):
        near = window.start + timedelta(minutes=15 * draw(st.integers(0, int(window.duration.total_seconds() // 900))))
    blackout = {date(2027, 3, 8) + timedelta(days=d) for d in draw(st.sets(st.integers(0, 42), max_size=4))}
    return {"people": people, "window": window, "length": length, "near": near, "blackout": blackout,
            "host_zone": people[0].zone, "limit": draw(st.sampled_from((1, 4, 10, 24)))}


def described(candidates: list[Candidate]) -> list[tuple]:
    return [(c.start, c.end, dict(c.out_of_hours), c.conflicts, c.unsocial_minutes) for c in candidates]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem())
def test_the_vectorised_finder_ranks_and_costs_as_the_plain_one(case: dict) -> None:
    kwargs = {"host_zone": case["host_zone"], "blackout": case["blackout"], "limit": case["limit"],
              "near": case["near"]}
    fast = find_slots(case["people"], case["window"], case["length"], **kwargs)
    plain = slots_oracle.find_slots(case["people"], case["window"], case["length"], **kwargs)
    assert described(fast) == described(plain)
