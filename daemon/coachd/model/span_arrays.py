"""Spans of time as numpy arrays of epoch seconds: how much of many slots someone's hours or busy times cover, at once.

Placing a weekly series for a year weighs hundreds of candidate slots a week against every
attendee's working hours, social day and busy times. As Python objects that is millions of
comparisons; as sorted arrays each question about all candidates is a couple of binary searches
in C (`numpy.searchsorted`), and a prefix sum of the spans' lengths turns "how much of this slot
is covered" into a subtraction.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from coachd.model.types import Interval

Seconds = npt.NDArray[np.int64]


def seconds(instant: datetime) -> int:
    """Whole seconds since the epoch (every time coachd plans with falls on a whole minute)."""
    return int(instant.timestamp())


def instant(value: int | np.integer[Any]) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def merged(starts: Seconds, ends: Seconds) -> tuple[Seconds, Seconds]:
    """Sorted, coalesced spans (touching ones joined, empty ones dropped), as `intervals.merge` does."""
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    first = np.empty(len(starts), dtype=bool)
    first[0] = True
    first[1:] = starts[1:] > reach[:-1]
    heads = np.flatnonzero(first)
    return starts[heads], np.maximum.reduceat(ends, heads)


class SpanArray:
    """Merged, sorted spans with vectorised coverage queries; immutable, hashable and iterable as Intervals."""

    __slots__ = ("_hash", "_lists", "before", "ends", "starts")

    def __init__(self, starts: Seconds, ends: Seconds, *, is_merged: bool = False) -> None:
        if not is_merged:
            starts, ends = merged(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))
        self.starts: Seconds = starts
        self.ends: Seconds = ends
        # before[i]: the covered seconds of all spans before span i.
        self.before: Seconds = np.concatenate(([0], np.cumsum(ends - starts)[:-1])).astype(np.int64) \
            if len(starts) else np.zeros(0, dtype=np.int64)
        self._hash: int | None = None
        self._lists: tuple[list[int], list[int], list[int]] | None = None

    @classmethod
    def of(cls, spans: Iterable[Interval]) -> SpanArray:
        if isinstance(spans, SpanArray):
            return spans
        listed = list(spans)
        if not listed:
            return _EMPTY
        return cls(np.fromiter((s.start.timestamp() for s in listed), dtype=np.int64, count=len(listed)),
                   np.fromiter((s.end.timestamp() for s in listed), dtype=np.int64, count=len(listed)))

    @classmethod
    def empty(cls) -> SpanArray:
        return _EMPTY

    @classmethod
    def union(cls, parts: Iterable[SpanArray]) -> SpanArray:
        listed = [p for p in parts if len(p)]
        if not listed:
            return cls.empty()
        if len(listed) == 1:
            return listed[0]
        return cls(np.concatenate([p.starts for p in listed]), np.concatenate([p.ends for p in listed]))

    # --- queries over many slots at once --------------------------------------------------------

    def _covered_before(self, moments: Seconds) -> Seconds:
        index = np.searchsorted(self.starts, moments, side="right") - 1
        safe = np.maximum(index, 0)
        inside = np.minimum(moments, self.ends[safe]) - self.starts[safe]
        return np.where(index >= 0, self.before[safe] + inside, 0)

    def covered(self, starts: Seconds, ends: Seconds) -> Seconds:
        """Seconds of each slot [starts[i], ends[i]) these spans cover."""
        if len(self.starts) == 0:
            return np.zeros(len(starts), dtype=np.int64)
        return self._covered_before(ends) - self._covered_before(starts)

    def hits(self, starts: Seconds, ends: Seconds) -> npt.NDArray[np.bool_]:
        """Whether any span overlaps each slot (by more than an instant)."""
        return self.covered(starts, ends) > 0

    # --- one slot at a time: plain lists and bisect, cheaper than numpy for a single question -------

    def _as_lists(self) -> tuple[list[int], list[int], list[int]]:
        if self._lists is None:
            self._lists = (self.starts.tolist(), self.ends.tolist(), self.before.tolist())
        return self._lists

    def covered_one(self, start: int, end: int) -> int:
        """Seconds of [start, end) these spans cover."""
        return self._covered_upto(end) - self._covered_upto(start)

    def _covered_upto(self, moment: int) -> int:
        starts, ends, before = self._as_lists()
        index = bisect_right(starts, moment) - 1
        if index < 0:
            return 0
        return before[index] + min(moment, ends[index]) - starts[index]

    def hits_one(self, span: Interval) -> bool:
        return self.hits_seconds(seconds(span.start), seconds(span.end))

    def hits_seconds(self, start: int, end: int) -> bool:
        starts, ends, _ = self._as_lists()
        index = bisect_left(starts, end) - 1
        return index >= 0 and ends[index] > start

    def within(self, window: Interval) -> SpanArray:
        """The spans overlapping `window`, not clipped."""
        first = int(np.searchsorted(self.ends, seconds(window.start), side="right"))
        last = int(np.searchsorted(self.starts, seconds(window.end), side="left"))
        if first == 0 and last == len(self.starts):
            return self
        return SpanArray(self.starts[first:last], self.ends[first:last], is_merged=True)

    def clipped(self, window: Interval) -> list[Interval]:
        """The spans inside `window`, clipped to it, as Intervals."""
        inside = self.within(window)
        low, high = seconds(window.start), seconds(window.end)
        return [Interval(instant(max(s, low)), instant(min(e, high)))
                for s, e in zip(inside.starts.tolist(), inside.ends.tolist(), strict=True)]

    # --- a value ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[Interval]:
        for start, end in zip(self.starts.tolist(), self.ends.tolist(), strict=True):
            yield Interval(instant(start), instant(end))

    def __bool__(self) -> bool:
        return len(self.starts) > 0

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, SpanArray):
            return NotImplemented
        if len(self) != len(other) or hash(self) != hash(other):
            return False
        return bool(np.array_equal(self.starts, other.starts) and np.array_equal(self.ends, other.ends))

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.starts.tobytes(), self.ends.tobytes()))
        return self._hash

    def __repr__(self) -> str:
        return f"SpanArray({len(self)} spans)"


_EMPTY = SpanArray(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), is_merged=True)
