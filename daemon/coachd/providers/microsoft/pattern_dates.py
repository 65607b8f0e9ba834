"""The occurrences of a Graph patternedRecurrence, expanded the way Exchange reads it (no RRULE involved).

Kept apart from the RRULE mapping on purpose: the mapping's tests compare this expansion with dateutil's
expansion of the RRULE, so a mistake in one is not repeated in the other. The local Graph fake can expand
its events' instances with it too.

Each date gets the series' wall-clock start time in the recurrence zone, as Exchange does: a 10:00
Chicago series stays at 10:00 Chicago across DST. A wall time skipped when clocks go forward is read with
the offset before the change (zoneinfo's fold=0), exactly as SeriesSpec.original_starts reads it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coachd.providers.microsoft.zones import iana_zone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # date.weekday()
INDEXES = ("first", "second", "third", "fourth", "last")
# An open-ended series is expanded this far at most, as SeriesSpec caps its own expansion.
DEFAULT_CAP = 520


def occurrence_dates(recurrence: Mapping[str, Any], *, cap: int = DEFAULT_CAP) -> Iterator[date]:
    """The local dates of the series' occurrences, in order, within its range (at most `cap` of them)."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    first = date.fromisoformat(rng["startDate"])
    last = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else None
    count = int(rng["numberOfOccurrences"]) if rng["type"] == "numbered" else None
    limit = cap if count is None else min(cap, count)
    produced = 0
    for day in _candidates(pattern, first):
        if produced >= limit or (last is not None and day > last):
            return
        if day >= first:
            produced += 1
            yield day


def occurrence_starts(recurrence: Mapping[str, Any], start: datetime, *, cap: int = DEFAULT_CAP) -> list[datetime]:
    """The UTC start of each occurrence of an event whose first start is `start` (aware)."""
    prefer = getattr(start.tzinfo, "key", None)
    zone = ZoneInfo(iana_zone(recurrence["range"].get("recurrenceTimeZone") or prefer or "UTC", prefer))
    wall = start.astimezone(zone).time().replace(tzinfo=None)
    return [datetime.combine(day, wall, zone).astimezone(UTC) for day in occurrence_dates(recurrence, cap=cap)]


def _candidates(pattern: Mapping[str, Any], first: date) -> Iterator[date]:
    """Every date the pattern names from the period holding `first` on, endlessly (the caller stops)."""
    kind = pattern["type"]
    interval = int(pattern.get("interval") or 1)
    if interval < 1:
        raise ValueError(f"pattern interval must be at least 1, got {interval}")
    if kind == "daily":
        day = first
        while True:
            yield day
            day += timedelta(days=interval)
    elif kind == "weekly":
        days = sorted(_weekdays(pattern))
        week_start = WEEKDAYS.index(pattern.get("firstDayOfWeek") or "sunday")
        week = first - timedelta(days=(first.weekday() - week_start) % 7)
        # Days in the order they come within a week that starts on firstDayOfWeek.
        offsets = sorted((d - week_start) % 7 for d in days)
        while True:
            for offset in offsets:
                yield week + timedelta(days=offset)
            week += timedelta(weeks=interval)
    elif kind in ("absoluteMonthly", "relativeMonthly"):
        year, month = first.year, first.month
        while True:
            yield from _in_month(pattern, kind, year, month)
            month += interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    elif kind in ("absoluteYearly", "relativeYearly"):
        year = first.year
        month = int(pattern["month"])
        monthly = "absoluteMonthly" if kind == "absoluteYearly" else "relativeMonthly"
        while True:
            yield from _in_month(pattern, monthly, year, month)
            year += interval
    else:
        raise ValueError(f"unknown recurrence pattern type {kind!r}")


def _in_month(pattern: Mapping[str, Any], kind: str, year: int, month: int) -> list[date]:
    length = calendar.monthrange(year, month)[1]
    if kind == "absoluteMonthly":
        # Exchange puts day 29-31 on a shorter month's last day (RRULE would skip that month instead).
        return [date(year, month, min(int(pattern["dayOfMonth"]), length))]
    days = _weekdays(pattern)
    matching = [date(year, month, d) for d in range(1, length + 1) if date(year, month, d).weekday() in days]
    index = INDEXES.index(pattern.get("index") or "first")
    if index == 4:
        return [matching[-1]]
    return [matching[index]] if index < len(matching) else []


def _weekdays(pattern: Mapping[str, Any]) -> set[int]:
    names = pattern.get("daysOfWeek") or []
    if not names:
        raise ValueError(f"a {pattern['type']} pattern needs daysOfWeek")
    return {WEEKDAYS.index(name.lower()) for name in names}
