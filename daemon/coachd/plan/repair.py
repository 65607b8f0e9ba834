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

from collections import deque
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
# Fair burden: over any FAIR_WINDOW consecutive occurrences nobody carries more than about half the
# out-of-hours minutes while a slot burdening someone else by a comparable amount exists: no more than
# COMPARABLE_BURDEN minutes more out of hours and COMPARABLE_NIGHT minutes more at night than the least that week.
FAIR_WINDOW = 8
COMPARABLE_BURDEN = 30
COMPARABLE_NIGHT = 60
# How many of a week's best slots (by working hours) are weighed when taking turns.
TURN_OPTIONS = 24


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
def _by_hours(people: tuple[Availability, ...], window: Interval, length: timedelta, host_zone: ZoneInfo,
              blackout: frozenset[date], blackout_zone: ZoneInfo) -> tuple[Candidate, ...]:
    """The best slots in `window` by working hours alone, best first; busy times only make them worse.

    Depends on nothing that changes between ticks, so it is computed once per week and series.
    """
    return tuple(find_slots(people, window, length, host_zone=host_zone, blackout=blackout,
                            blackout_zone=blackout_zone, limit=TURN_OPTIONS))


def _week_by_hours(series: BookedSeries, occurrence: Occurrence, timelines: Timelines,
                   rules: Rules) -> tuple[Candidate, ...]:
    spec = series.spec
    week = week_of(occurrence.recurrence_id, spec.zone)
    people = tuple(Availability(a.person_id, a.zone, a.hours, a.days) for a in
                   (timelines.availability[p.person_id] for p in spec.everyone()))
    return _by_hours(people, week, spec.length, spec.zone, frozenset(rules.blackout), rules.blackout_zone)


def _least_strain(series: BookedSeries, occurrence: Occurrence, timelines: Timelines, rules: Rules) -> Candidate | None:
    """The least strained slot working hours allow in the occurrence's week: what it is fair to ask of people."""
    found = _week_by_hours(series, occurrence, timelines, rules)
    return found[0] if found else None


def comparable(candidate: Candidate, least: Candidate | None) -> bool:
    """Whether `candidate` asks no more of people than `least` (the week's least strained slot) by a margin
    people do not feel as unfair: within COMPARABLE_BURDEN minutes out of hours and COMPARABLE_NIGHT minutes
    more at night. Where the least strained slot burdens nobody, only a slot burdening nobody compares."""
    if least is None:
        return candidate.burden_minutes == 0
    if candidate.strain <= least.strain:
        return True
    return (least.burden_minutes > 0 and candidate.burden_minutes <= least.burden_minutes + COMPARABLE_BURDEN
            and candidate.unsocial_minutes <= least.unsocial_minutes + COMPARABLE_NIGHT)


def _heaviest(load: Mapping[str, int], candidate: Candidate) -> int:
    """The most out-of-hours minutes anyone would carry over the recent occurrences with `candidate` added."""
    people = set(load) | set(candidate.out_of_hours)
    return max((load.get(p, 0) + candidate.out_of_hours.get(p, 0) for p in people), default=0)


def _unfair(load: Mapping[str, int], candidate: Candidate) -> bool:
    """Whether, with `candidate`, someone it burdens carries more than half of the recent out-of-hours minutes."""
    total = sum(load.values()) + candidate.burden_minutes
    return any(2 * (load.get(p, 0) + m) > total for p, m in candidate.out_of_hours.items())


def _fair_turn(series: BookedSeries, occurrence: Occurrence, timelines: Timelines, rules: Rules,
               least: Candidate | None, load: Mapping[str, int], options: list[Candidate]) -> Candidate | None:
    """Among the week's slots in nobody's way and comparable to its least strained one (and `options`), the one
    leaving the heaviest carrier of the recent occurrences least loaded; then the least strain, then the
    closest to where the occurrence is."""
    spec = series.spec
    week = week_of(occurrence.recurrence_id, spec.zone)
    start, end = max(week.start, to_utc(rules.earliest)), min(week.end, to_utc(rules.last))
    full: list[Interval] = []
    if spec.kind is SessionKind.INDIVIDUAL and rules.max_individual_per_day:
        full = _full_days(timelines, spec.host.person_id, spec.key, Interval(start, end), spec.zone,
                          rules.max_individual_per_day)
    people = spec.everyone()
    for slot in _week_by_hours(series, occurrence, timelines, rules):
        if slot.start < start or slot.end > end or any(slot.interval.overlaps(day) for day in full):
            continue
        cost = timelines.cost(slot.interval, people, spec.key)
        if not cost.conflicts and comparable(cost, least):
            options.append(cost)
    if not options:
        return None
    return min(options, key=lambda c: (_heaviest(load, c), c.strain,
                                       abs((c.start - occurrence.start).total_seconds()), c.start))


def _recent_load(recent: deque[dict[str, int]]) -> dict[str, int]:
    load: dict[str, int] = {}
    for minutes in recent:
        for person, value in minutes.items():
            load[person] = load.get(person, 0) + value
    return load


def repair(series: BookedSeries, timelines: Timelines, rules: Rules,
           declines: Mapping[str, Decline] | None = None) -> tuple[tuple[Override, ...] | None, list[Conflict]]:
    """New overrides moving every future occurrence that no longer fits (None: nothing moves), and the
    conflicts that remain. The caller books the result into `timelines`, so the next series fits around it.

    Where nobody's hours meet, occurrences take turns: one that would leave someone carrying more than half
    the out-of-hours minutes of the last FAIR_WINDOW occurrences moves to a comparable slot burdening others.
    Where nobody can be freed from a conflict, the occurrence moves to the slot with the fewest people in
    conflict, then the least out of hours, and the rest are reported.
    """
    spec = series.spec
    people = spec.everyone()
    overrides = {to_utc(o.recurrence_id): o for o in series.overrides}
    conflicts: list[Conflict] = []
    changed = False
    occurrences = [o for o in series.occurrences() if not o.cancelled]
    # The out-of-hours minutes of the occurrences just before the current one: who has carried what lately.
    recent: deque[dict[str, int]] = deque(maxlen=FAIR_WINDOW - 1)
    first = next((n for n, o in enumerate(occurrences) if o.start >= rules.earliest), len(occurrences))
    for past in occurrences[max(0, first - FAIR_WINDOW + 1):first]:
        recent.append(timelines.cost(past.interval, people, spec.key).out_of_hours)
    for occurrence in occurrences[first:]:
        if rules.horizon is not None and occurrence.start >= rules.horizon:
            break
        current = timelines.cost(occurrence.interval, people, spec.key)
        override = overrides.get(occurrence.recurrence_id)
        if occurrence.start < rules.earliest or override is not None and override.pinned:
            # Too close to move (an earlier one moved later), or moved by hand in the calendar: planned
            # around, never moved back.
            recent.append(current.out_of_hours)
            continue
        declined_by, declined_at = _decliners(series, occurrence, declines or {}), None
        if declined_by:
            current = replace(current, conflicts=tuple(sorted(set(current.conflicts) | declined_by)))
        else:
            declined_by, declined_at = _declined_earlier(series, occurrence, declines or {})
        if current.fits_everyone:
            recent.append(current.out_of_hours)
            continue
        least = _least_strain(series, occurrence, timelines, rules)
        fair = 0 if least is None else least.strain
        load = _recent_load(recent)
        if not current.conflicts and comparable(current, least):
            # Out of someone's hours, but as little as that week allows: it stays unless it is someone
            # else's turn (nobody declined it elsewhere), and then only for a turn that is fairer.
            turn = None
            if not declined_by and _unfair(load, current):
                turn = _fair_turn(series, occurrence, timelines, rules, least, load, [])
            if turn is None or _heaviest(load, turn) >= _heaviest(load, current):
                recent.append(current.out_of_hours)
                continue
            best: Candidate | None = turn
        else:
            best = best_in_week(series, occurrence, timelines, rules, declined_by, declined_at)
            if best is not None and not best.conflicts and best.burden_minutes and not declined_by:
                # Moving anyway: to whoever's turn it is, unless that trades a conflict for more strain.
                turn = _fair_turn(series, occurrence, timelines, rules, least, load, [best])
                if turn is not None and (not current.conflicts or turn.strain <= max(fair, current.strain)):
                    best = turn
        if current.conflicts:
            # Freeing someone must not push everyone out of hours: no more strain than is fair that week.
            bound = max(fair, current.strain)
            if best is not None and best.conflicts:
                # Nobody can be freed: fewer people in conflict, then less out of hours, is still better.
                better = (best.strain <= bound and (len(best.conflicts), best.burden_minutes)
                          < (len(current.conflicts), current.burden_minutes))
            else:
                better = best is not None and best.strain <= bound
        else:
            better = best is not None and not best.conflicts and (
                best.strain < current.strain or _heaviest(load, best) < _heaviest(load, current))
        if best is None or not better:
            if current.conflicts:
                who = ", ".join(current.conflicts)
                conflicts.append(Conflict(spec.key, occurrence.session_id, occurrence.start, current.conflicts,
                                          f"{who} busy or declined, and no time that week frees everyone; left in place"))
            recent.append(current.out_of_hours)
            continue
        assert best is not None
        if best.conflicts:
            who = ", ".join(best.conflicts)
            conflicts.append(Conflict(spec.key, occurrence.session_id, best.start, best.conflicts,
                                      f"{who} busy or declined all that week; moved to the time the fewest people miss"))
        rid = occurrence.recurrence_id
        if best.start == rid:
            overrides.pop(rid, None)
        else:
            overrides[rid] = Override(rid, best.start, best.end)
        recent.append(best.out_of_hours)
        changed = True
    if not changed:
        return None, conflicts
    return tuple(sorted(overrides.values(), key=lambda o: o.recurrence_id)), conflicts
