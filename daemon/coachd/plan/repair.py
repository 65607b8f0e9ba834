"""Keeping booked occurrences right: each in everyone's hours and free, moved only when it must be.

A series repeats in its host's wall-clock time. When another attendee's clock
changes on a different date (Chicago and Berlin are three weeks apart every
March), or someone is busy, a single occurrence no longer fits. Such an
occurrence is moved within its own week (an override on the series, so the
calendar keeps one recurring event); where no slot that week frees everyone,
it stays and the conflict is reported rather than pushing everyone out of
hours. An occurrence that still fits is never moved, even if a better slot
has appeared since: stability matters more to people than optimality.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from coachd.plan.calendar_truth import Decline
from coachd.plan.slots import Availability, Candidate, find_slots
from coachd.plan.timelines import Timelines
from coachd.model.types import UTC, BookedSeries, Interval, Occurrence, Override, SessionKind, to_utc


@dataclass(frozen=True)
class Conflict:
    """An occurrence left where it is although someone cannot make it."""

    series_key: str
    session_id: str
    start: datetime
    people: tuple[str, ...]
    reason: str

    def describe(self) -> str:
        return f"{self.series_key} {self.start.isoformat()}: {self.reason}"


# How far ahead each tick re-checks booked occurrences. Placement checks a series' whole life; after
# that, what changes (busy times, declines) is looked at as it comes within reach, which is also how
# far ahead people can be expected to keep their calendars current.
LOOKAHEAD = timedelta(weeks=8)
# After a person's busy source is read again following a failure (or for the first time), the series they
# are in are re-checked over their whole life, not LOOKAHEAD, for this long: the plan job runs every few
# minutes, so that is many passes; afterwards the usual lookahead is enough again.
RECHECK_AFTER_RECOVERY = timedelta(days=1)


@dataclass(frozen=True)
class Rules:
    """What repairs must respect: nothing sooner than `earliest`, nothing after `last`, no blackout day;
    occurrences starting at `horizon` or later are left for later ticks."""

    earliest: datetime
    last: datetime
    blackout: Collection[date]
    blackout_zone: ZoneInfo
    horizon: datetime | None = None
    # At most this many one-to-ones a day for one coach (scheduling.max_individual_per_day).
    max_individual_per_day: int | None = None


def week_of(instant: datetime, zone: ZoneInfo) -> Interval:
    """Monday 00:00 to the next Monday 00:00 in `zone`, around `instant`."""
    local = instant.astimezone(zone).date()
    monday = local - timedelta(days=local.weekday())
    return Interval(datetime.combine(monday, time(0), zone).astimezone(UTC),
                    datetime.combine(monday + timedelta(days=7), time(0), zone).astimezone(UTC))


def best_in_week(series: BookedSeries, occurrence: Occurrence, timelines: Timelines, rules: Rules,
                 declined_by: frozenset[str] = frozenset(), declined_at: Interval | None = None) -> Candidate | None:
    """The best slot for this occurrence in its own week, as close to where it is as the ranking allows;
    those who declined it are taken as busy at the time they declined (default: its current time)."""
    spec = series.spec
    week = week_of(occurrence.recurrence_id, spec.zone)
    start = max(week.start, to_utc(rules.earliest))
    end = min(week.end, to_utc(rules.last))
    if start + spec.length > end:
        return None
    people = tuple(_declined(p, declined_at or occurrence.interval) if p.person_id in declined_by else p
                   for p in timelines.people(spec.everyone(), spec.key, Interval(start, end)))
    if spec.kind is SessionKind.INDIVIDUAL and rules.max_individual_per_day:
        full = _full_days(timelines, spec.host.person_id, spec.key, Interval(start, end), spec.zone,
                          rules.max_individual_per_day)
        people = tuple(_busy_during(p, full) if p.person_id == spec.host.person_id else p for p in people)
    return _best_slot(people, Interval(start, end), spec.length, spec.zone, frozenset(rules.blackout),
                      rules.blackout_zone, occurrence.start)


def _full_days(timelines: Timelines, coach: str, exclude: str, window: Interval, zone: ZoneInfo,
               limit: int) -> list[Interval]:
    """The days (in the coach's zone) that already hold `limit` of the coach's one-to-ones."""
    per_day: dict[date, int] = {}
    for start, _, key in timelines.sessions_in(coach, window):
        if key.startswith("individual:") and key != exclude:
            day = (start + timelines.buffer).astimezone(zone).date()
            per_day[day] = per_day.get(day, 0) + 1
    return [Interval(datetime.combine(day, time(0), zone).astimezone(UTC),
                     datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC))
            for day, count in sorted(per_day.items()) if count >= limit]


def _busy_during(person: Availability, spans: list[Interval]) -> Availability:
    if not spans:
        return person
    return Availability(person.person_id, person.zone, person.hours, person.days,
                        tuple(sorted((*person.busy, *spans))))


def _declined(person: Availability, span: Interval) -> Availability:
    return Availability(person.person_id, person.zone, person.hours, person.days,
                        tuple(sorted((*person.busy, span))))


def _decliners(series: BookedSeries, occurrence: Occurrence, declines: Mapping[str, Decline]) -> frozenset[str]:
    """Who declined this occurrence at its current time, when that is reason to move it:
    the host, or half or more of the attendees."""
    decline = declines.get(occurrence.session_id)
    if decline is None or decline.start != occurrence.start:
        return frozenset()  # no decline, or one of a time it no longer has
    return _counting(series, decline)


def _declined_earlier(series: BookedSeries, occurrence: Occurrence,
                      declines: Mapping[str, Decline]) -> tuple[frozenset[str], Interval | None]:
    """Who declined this occurrence at a time it has since been moved from, and that time: a later
    repair must not move it back there (the answer still stands for that time)."""
    decline = declines.get(occurrence.session_id)
    if decline is None or decline.start == occurrence.start:
        return frozenset(), None
    return _counting(series, decline), Interval(decline.start, decline.start + series.spec.length)


def _counting(series: BookedSeries, decline: Decline) -> frozenset[str]:
    everyone = {a.person_id for a in series.spec.everyone()}
    people = decline.people & everyone
    if series.spec.host.person_id in people or 2 * len(people) >= len(everyone):
        return frozenset(people)
    return frozenset()


@lru_cache(maxsize=4096)
def _best_slot(people: tuple[Availability, ...], window: Interval, length: timedelta, host_zone: ZoneInfo,
               blackout: frozenset[date], blackout_zone: ZoneInfo, near: datetime) -> Candidate | None:
    # Memoised: an occurrence left in conflict is looked at again every tick with the same inputs.
    found = find_slots(list(people), window, length, host_zone=host_zone, blackout=blackout,
                       blackout_zone=blackout_zone, limit=1, near=near)
    return found[0] if found else None


@lru_cache(maxsize=4096)
def _least_cost_by_hours(people: tuple[Availability, ...], window: Interval, length: timedelta, host_zone: ZoneInfo,
                         blackout: frozenset[date], blackout_zone: ZoneInfo) -> int | None:
    """The strain of the best slot in `window` by working hours alone; busy times only make it worse.

    Depends on nothing that changes between ticks, so it is computed once per week and series.
    """
    found = find_slots(people, window, length, host_zone=host_zone, blackout=blackout, blackout_zone=blackout_zone,
                       limit=1)
    return found[0].strain if found else None


def _least_strain(series: BookedSeries, occurrence: Occurrence, timelines: Timelines, rules: Rules) -> int:
    """The least strain working hours allow in the occurrence's week: what it is fair to ask of people."""
    spec = series.spec
    week = week_of(occurrence.recurrence_id, spec.zone)
    people = tuple(Availability(a.person_id, a.zone, a.hours, a.days) for a in
                   (timelines.availability[p.person_id] for p in spec.everyone()))
    least = _least_cost_by_hours(people, week, spec.length, spec.zone, frozenset(rules.blackout), rules.blackout_zone)
    return 0 if least is None else least


def repair(series: BookedSeries, timelines: Timelines, rules: Rules,
           declines: Mapping[str, Decline] | None = None) -> tuple[tuple[Override, ...] | None, list[Conflict]]:
    """New overrides moving every future occurrence that no longer fits (None: nothing moves), and the
    conflicts that remain. The caller books the result into `timelines`, so the next series fits around it."""
    spec = series.spec
    people = spec.everyone()
    overrides = {to_utc(o.recurrence_id): o for o in series.overrides}
    conflicts: list[Conflict] = []
    changed = False
    for occurrence in series.occurrences():
        if rules.horizon is not None and occurrence.start >= rules.horizon:
            break
        if occurrence.cancelled or occurrence.start < rules.earliest:
            continue  # the past, and what is too close to move, stay as they are
        override = overrides.get(occurrence.recurrence_id)
        if override is not None and override.pinned:
            continue  # moved by hand in the calendar: planned around, never moved back
        current = timelines.cost(occurrence.interval, people, spec.key)
        declined_by, declined_at = _decliners(series, occurrence, declines or {}), None
        if declined_by:
            current = replace(current, conflicts=tuple(sorted(set(current.conflicts) | declined_by)))
        else:
            declined_by, declined_at = _declined_earlier(series, occurrence, declines or {})
        if current.fits_everyone:
            continue
        fair = _least_strain(series, occurrence, timelines, rules)
        if not current.conflicts and current.strain <= fair:
            continue  # out of someone's hours, but as little as that week allows
        best = best_in_week(series, occurrence, timelines, rules, declined_by, declined_at)
        if current.conflicts:
            # Freeing someone must not push everyone out of hours: no more strain than is fair that week.
            better = best is not None and not best.conflicts and best.strain <= max(fair, current.strain)
        else:
            better = best is not None and not best.conflicts and best.strain < current.strain
        if best is None or not better:
            if current.conflicts:
                who = ", ".join(current.conflicts)
                conflicts.append(Conflict(spec.key, occurrence.session_id, occurrence.start, current.conflicts,
                                          f"{who} busy or declined, and no time that week frees everyone; left in place"))
            continue
        assert best is not None
        rid = occurrence.recurrence_id
        if best.start == rid:
            overrides.pop(rid, None)
        else:
            overrides[rid] = Override(rid, best.start, best.end)
        changed = True
    if not changed:
        return None, conflicts
    return tuple(sorted(overrides.values(), key=lambda o: o.recurrence_id)), conflicts
