"""Interval arithmetic on sorted, merged lists of absolute time spans."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import timedelta

from coachd.model.types import Interval


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and coalesce overlapping or touching intervals."""
    result: list[Interval] = []
    for current in sorted(intervals):
        if current.start == current.end:
            continue
        if result and current.start <= result[-1].end:
            if current.end > result[-1].end:
                result[-1] = Interval(result[-1].start, current.end)
        else:
            result.append(current)
    return result


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Spans present in both merged lists (a linear sweep, both inputs sorted)."""
    result: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i].start, b[j].start)
        end = min(a[i].end, b[j].end)
        if start < end:
            result.append(Interval(start, end))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return result


def subtract(base: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """Spans of `base` not covered by `holes` (both merged and sorted)."""
    result: list[Interval] = []
    j = 0
    for span in base:
        start = span.start
        while j < len(holes) and holes[j].end <= start:
            j += 1
        k = j
        while k < len(holes) and holes[k].start < span.end:
            if holes[k].start > start:
                result.append(Interval(start, holes[k].start))
            start = max(start, holes[k].end)
            k += 1
        if start < span.end:
            result.append(Interval(start, span.end))
    return result


def overlap(span: Interval, intervals: Sequence[Interval]) -> timedelta:
    """How much of `span` the merged `intervals` cover."""
    total = timedelta(0)
    for other in intervals:
        if other.start >= span.end:
            break
        start, end = max(span.start, other.start), min(span.end, other.end)
        if start < end:
            total += end - start
    return total


def clip(intervals: Sequence[Interval], window: Interval) -> list[Interval]:
    return intersect(intervals, [window])


class SortedSpans:
    """A merged, sorted list of spans with fast overlap queries."""

    def __init__(self, spans: Iterable[Interval]) -> None:
        self.spans = merge(spans)
        self._starts = [s.start for s in self.spans]

    def covered(self, span: Interval) -> timedelta:
        """How much of `span` these spans cover."""
        total = timedelta(0)
        index = max(0, bisect_right(self._starts, span.start) - 1)
        while index < len(self.spans) and self.spans[index].start < span.end:
            other = self.spans[index]
            start, end = max(span.start, other.start), min(span.end, other.end)
            if start < end:
                total += end - start
            index += 1
        return total

    def hits(self, span: Interval) -> bool:
        index = max(0, bisect_right(self._starts, span.start) - 1)
        while index < len(self.spans) and self.spans[index].start < span.end:
            if self.spans[index].end > span.start:
                return True
            index += 1
        return False
