"""The periods sponsor digests cover: consecutive spans between program-zone midnights."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from coachd.config.model import ProgramConfig
from coachd.config.values import DigestCadence

Span = tuple[datetime, datetime]
"""[start, end) as aware UTC datetimes."""


def program_end(cfg: ProgramConfig) -> datetime:
    """The instant the program is over: the midnight after its last day, in the program's zone (UTC)."""
    return midnight(cfg.program.ends + timedelta(days=1), cfg.program.zone)


def digest_periods(cfg: ProgramConfig) -> list[Span]:
    """The digest periods of the program, in order: the first starts at program.starts, the last
    holds program.ends; each ends where the next starts.

    Whole-week cadences step from program.starts; monthly and quarterly ones end on the 1st of a
    calendar month (quarters: January, April, July, October), so the first may be short; the last
    ends the day after program.ends, so it may be short too. Bounds
    are midnights in the program's zone, so a period across a DST change is an hour off whole days.
    """
    program = cfg.program
    days = boundary_days(program.starts, program.ends, cfg.digest.every)
    # The last period stops with the program, so its digest goes out the day after the last day,
    # before the final report, not weeks later at the next calendar boundary.
    days[-1] = min(days[-1], program.ends + timedelta(days=1))
    bounds = [midnight(day, program.zone) for day in days]
    return list(zip(bounds, bounds[1:], strict=False))


def boundary_days(starts: date, ends: date, every: DigestCadence) -> list[date]:
    """The days the periods start on, then the day after the last one ends (the first bound after ends)."""
    days = [starts]
    while days[-1] <= ends:
        days.append(_next_boundary(days[-1], every))
    return days


def _next_boundary(day: date, every: DigestCadence) -> date:
    if every.weeks is not None:
        return day + timedelta(weeks=every.weeks)
    months = every.months or 1
    index = day.year * 12 + day.month - 1  # months since year 0, so quarters start where index % 3 == 0
    index += months - index % months
    return date(index // 12, index % 12 + 1, 1)


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of day in zone, in UTC (where midnight is skipped by DST, the instant the day begins)."""
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def local_days(span: Span, zone: ZoneInfo) -> tuple[date, date]:
    """A span's first and last day (inclusive) in zone: what a digest's heading shows."""
    start, end = span
    return start.astimezone(zone).date(), (end.astimezone(zone) - timedelta(microseconds=1)).date()


def period_containing(periods: Sequence[Span], instant: datetime) -> Span | None:
    """The period with start <= instant < end, or None before the first and after the last."""
    for span in periods:
        if span[0] <= instant < span[1]:
            return span
    return None


def previous_period(periods: Sequence[Span], span: Span) -> Span | None:
    """The period just before span (a trend's "since the last digest"); None for the first, and for
    a span that is not one of periods (a report's own range)."""
    index = list(periods).index(span) if span in periods else 0
    return periods[index - 1] if index > 0 else None


def next_end(periods: Sequence[Span], instant: datetime) -> datetime | None:
    """The end of the first period ending after instant: when the next digest's period is over."""
    return next((end for _, end in periods if end > instant), None)


def last_ended(periods: Sequence[Span], instant: datetime) -> Span | None:
    """The latest period whose end is at or before instant: the one a digest sent at instant covers."""
    ended = [span for span in periods if span[1] <= instant]
    return ended[-1] if ended else None
