"""Interval arithmetic: merge, intersect, subtract, overlap."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from coachd.model.intervals import intersect, merge, overlap, subtract
from coachd.model.types import UTC, Interval

BASE = datetime(2027, 1, 4, tzinfo=UTC)


def span(a: int, b: int) -> Interval:
    return Interval(BASE + timedelta(minutes=a), BASE + timedelta(minutes=b))


def test_merge_coalesces_overlapping_and_touching_spans():
    assert merge([span(30, 60), span(0, 10), span(10, 20), span(50, 90)]) == [span(0, 20), span(30, 90)]


def test_intersect_and_subtract():
    work = [span(0, 100), span(200, 300)]
    busy = [span(50, 250)]
    assert intersect(work, busy) == [span(50, 100), span(200, 250)]
    assert subtract(work, busy) == [span(0, 50), span(250, 300)]
    assert overlap(span(40, 60), busy) == timedelta(minutes=10)


spans = st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 300)).map(lambda t: span(t[0], t[0] + t[1])),
                 max_size=30)


def minutes(intervals: list[Interval]) -> set[int]:
    covered = set()
    for i in intervals:
        start = int((i.start - BASE).total_seconds() // 60)
        end = int((i.end - BASE).total_seconds() // 60)
        covered.update(range(start, end))
    return covered


@given(spans, spans)
def test_set_algebra_matches_minute_sets(a, b):
    ma, mb = merge(a), merge(b)
    assert minutes(intersect(ma, mb)) == minutes(a) & minutes(b)
    assert minutes(subtract(ma, mb)) == minutes(a) - minutes(b)
    assert minutes(ma) == minutes(a)
    assert all(x.end < y.start for x, y in zip(ma, ma[1:]))
