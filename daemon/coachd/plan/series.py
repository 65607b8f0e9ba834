"""From a program's config to the series it needs, each placed for its whole life."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from coachd.model.span_arrays import seconds
from coachd.model.types import (
    UTC,
    Attendee,
    BookedSeries,
    Interval,
    Occurrence,
    Override,
    Role,
    SeriesSpec,
    SessionKind,
)
from coachd.plan.blackouts import keep_off_blackouts
from coachd.plan.repair import LOOKAHEAD, Rules, repair
from coachd.plan.slots import Availability, Candidate, find_slots, rank_key
from coachd.plan.timelines import Timelines

if TYPE_CHECKING:
    from coachd.config import ProgramConfig

# How many weeks after the intended first week we look before giving up on placing a series.
PLACEMENT_WEEKS = 3
# First-week candidates judged over the series' whole life: enough variety, bounded cost.
CANDIDATES = 12
STATES = ("stress", "steady", "momentum")
# A check-in is a short call between one-to-ones, not another one-to-one.
CHECK_IN_LENGTH = timedelta(minutes=15)


@dataclass(frozen=True)
class SeriesNeed:
    """A series the program needs, before it has a time."""

    key: str
    kind: SessionKind
    title: str
    host: Attendee
    attendees: tuple[Attendee, ...]
    length: timedelta
    every: timedelta | None
    first_week: int
    last_day: date
    team_id: str | None = None

    def everyone(self) -> tuple[Attendee, ...]:
        ids = {self.host.person_id}
        return (self.host, *(a for a in self.attendees if a.person_id not in ids))


@dataclass(frozen=True)
class Unplaced:
    """A series for which no slot was found, and why."""

    key: str
    reason: str


def attendee(cfg: ProgramConfig, person_id: str, role: Role) -> Attendee:
    person = cfg.person(person_id)
    return Attendee(person.id, person.name, str(person.email), person.timezone, role)


def program_week_start(cfg: ProgramConfig, week: int) -> datetime:
    """Monday 00:00 of program week `week` (0 = the week `starts` falls in), in the program's zone."""
    monday = cfg.program.starts - timedelta(days=cfg.program.starts.weekday())
    return datetime.combine(monday + timedelta(weeks=week), time(0), cfg.program.zone)


def program_weeks(cfg: ProgramConfig) -> int:
    return (cfg.program.ends - (cfg.program.starts - timedelta(days=cfg.program.starts.weekday()))).days // 7


def series_uid(cfg: ProgramConfig, key: str) -> str:
    domain = str(cfg.organizer.email).rpartition("@")[2]
    slug = key.replace(":", "-").replace("_", "-")
    return f"coachd-{cfg.program.id}-{slug}@{domain}"


def needs(cfg: ProgramConfig, states: Mapping[str, str] | None = None) -> list[SeriesNeed]:
    """Every series the config (and the coachees' states) ask for, in booking order: group before
    one-to-ones, so those fit around it, and check-ins last, in the gaps between one-to-ones."""
    s = cfg.sessions
    ends = cfg.program.ends
    wrapup_week = program_weeks(cfg)
    last_group_day = program_week_start(cfg, wrapup_week).date() - timedelta(days=1)
    result: list[SeriesNeed] = []
    coaches = cfg.coaches()
    for team in cfg.teams:
        coach = attendee(cfg, team.coach, Role.COACH)
        members = tuple(attendee(cfg, m, Role.COACHEE) for m in team.members)
        result.append(SeriesNeed(f"kickoff:{team.id}", SessionKind.KICKOFF, f"{team.name}: program kickoff",
                                 coach, members, s.kickoff.length, None, 0, ends, team.id))
        result.append(SeriesNeed(f"group:{team.id}", SessionKind.GROUP, f"{team.name}: group coaching",
                                 coach, members, s.group.length, s.group.every, 1, last_group_day, team.id))
    for team in cfg.teams:
        coach = attendee(cfg, team.coach, Role.COACH)
        for index, member in enumerate(team.members):
            coachee = attendee(cfg, member, Role.COACHEE)
            # Alternate first weeks so a coach's one-to-ones spread over the cadence.
            first = 1 + index % max(1, s.individual.every.days // 7)
            result.append(SeriesNeed(f"individual:{member}", SessionKind.INDIVIDUAL,
                                     f"One-to-one: {coachee.name} with {coach.name}",
                                     coach, (coachee,), s.individual.length, s.individual.every, first, ends, team.id))
    if len(coaches) > 1:
        host = attendee(cfg, coaches[0].id, Role.COACH)
        others = tuple(attendee(cfg, c.id, Role.COACH) for c in coaches[1:])
        result.append(SeriesNeed("circle", SessionKind.CIRCLE, f"{cfg.program.name}: coaches' circle",
                                 host, others, s.circle.length, s.circle.every, 0, ends))
    if cfg.sponsors:
        host = attendee(cfg, cfg.sponsors[0], Role.SPONSOR)
        rest = tuple(attendee(cfg, p, Role.SPONSOR) for p in cfg.sponsors[1:])
        rest += tuple(attendee(cfg, c.id, Role.COACH) for c in coaches)
        first = max(0, s.sponsor_review.every.days // 7 - 1)
        result.append(SeriesNeed("sponsor_review", SessionKind.SPONSOR_REVIEW, f"{cfg.program.name}: sponsor review",
                                 host, rest, s.sponsor_review.length, s.sponsor_review.every, first, ends))
    for team in cfg.teams:
        coach = attendee(cfg, team.coach, Role.COACH)
        members = tuple(attendee(cfg, m, Role.COACHEE) for m in team.members)
        result.append(SeriesNeed(f"wrapup:{team.id}", SessionKind.WRAPUP, f"{team.name}: program wrap-up",
                                 coach, members, s.wrapup.length, None, wrapup_week, ends, team.id))
    result.extend(check_in_needs(cfg, states or {}))
    return result


def check_in_cadence(cfg: ProgramConfig, state: str | None) -> timedelta | None:
    """How often a coachee in `state` should hear from their coach, if more often than the one-to-ones."""
    cadence = getattr(cfg.check_ins, state, None) if state in STATES else None
    if cadence is None or cadence >= cfg.sessions.individual.every:
        return None
    return cadence


def check_in_needs(cfg: ProgramConfig, states: Mapping[str, str]) -> list[SeriesNeed]:
    """Short extra one-to-ones for coachees whose state asks for more contact than the one-to-ones give.

    The key carries the cadence, so a change of state ends one series and starts another rather than
    rewriting the history of the first.
    """
    result = []
    for team in cfg.teams:
        coach = attendee(cfg, team.coach, Role.COACH)
        for member in team.members:
            cadence = check_in_cadence(cfg, states.get(member))
            if cadence is None:
                continue
            coachee = attendee(cfg, member, Role.COACHEE)
            result.append(SeriesNeed(f"check_in:{member}:{cadence.days // 7}w", SessionKind.CHECK_IN,
                                     f"Check-in: {coachee.name} with {coach.name}", coach, (coachee,),
                                     CHECK_IN_LENGTH, cadence, 0, cfg.program.ends, team.id))
    return result


def availability(cfg: ProgramConfig, person_id: str, busy: Sequence[Interval] = ()) -> Availability:
    person = cfg.person(person_id)
    return Availability(person.id, person.zone, (person.hours.start, person.hours.end), person.days, tuple(busy))


def program_horizon(cfg: ProgramConfig) -> Interval:
    """The whole program, a week either side."""
    p = cfg.program
    return Interval(datetime.combine(p.starts - timedelta(weeks=1), time(0), p.zone).astimezone(UTC),
                    datetime.combine(p.ends + timedelta(weeks=1), time(0), p.zone).astimezone(UTC))


def timelines_for(cfg: ProgramConfig, busy: Mapping[str, Sequence[Interval]],
                  booked: Sequence[BookedSeries]) -> Timelines:
    people = {p.id: availability(cfg, p.id) for p in cfg.people}
    return Timelines(people, busy, booked, program_horizon(cfg), cfg.scheduling.buffer)


def repair_rules(cfg: ProgramConfig, now: datetime, lookahead: timedelta | None = LOOKAHEAD) -> Rules:
    """Rules for moving occurrences as of `now`; `lookahead` None checks the series to its end."""
    last = datetime.combine(cfg.program.ends + timedelta(days=1), time(0), cfg.program.zone)
    earliest = now + cfg.scheduling.notice
    horizon = None if lookahead is None else earliest + lookahead
    return Rules(earliest, last, frozenset(cfg.program.blackout_days()), cfg.program.zone, horizon,
                 cfg.scheduling.max_individual_per_day)


def week_index(cfg: ProgramConfig, instant: datetime) -> int:
    """The program week `instant` falls in (0 = the week the program starts)."""
    return (instant - program_week_start(cfg, 0)).days // 7


def place(
    cfg: ProgramConfig,
    need: SeriesNeed,
    timelines: Timelines,
    booked: Sequence[BookedSeries],
    now: datetime,
) -> BookedSeries | Unplaced:
    """Book `need`: a first occurrence in the earliest week it can still have, chosen for the whole series.

    Candidates come from the first week, but each is judged on every occurrence
    it would have (a slot that suits Chicago and Berlin in January may not in
    March), then on its own merits. Where nobody's hours are all met, the
    burden rotates over the attendees; occurrences that still do not fit are
    moved within their week by `repair`. Other booked series are busy time.
    """
    host_zone = ZoneInfo(need.host.timezone)
    earliest = now + cfg.scheduling.notice
    blackout = cfg.program.blackout_days()
    first = max(need.first_week, week_index(cfg, earliest))
    # The first week where someone's hours are all met wins; failing that, the least costly of them all.
    fallback: tuple[tuple, Candidate, list[Candidate]] | None = None
    for week in range(first, first + PLACEMENT_WEEKS):
        start = max(program_week_start(cfg, week), earliest,
                    datetime.combine(cfg.program.starts, time(0), cfg.program.zone))
        end = min(program_week_start(cfg, week + 1),
                  datetime.combine(need.last_day + timedelta(days=1), time(0), cfg.program.zone))
        if start >= end:
            continue
        window = Interval(start.astimezone(UTC), end.astimezone(UTC))
        people = timelines.people(need.everyone(), need.key, window)
        candidates = find_slots(people, window, need.length, host_zone=host_zone, blackout=blackout,
                                blackout_zone=cfg.program.zone, limit=4 * CANDIDATES)
        candidates = _within_daily_limit(cfg, need, candidates, booked)
        if not candidates:
            continue
        judged = list(zip(_judge(cfg, need, candidates[:CANDIDATES], timelines, booked, earliest),
                          candidates[:CANDIDATES], strict=True))
        key, chosen = min(judged, key=lambda pair: pair[0])
        if chosen.fits_everyone:
            return _book_placed(cfg, need, chosen, candidates, timelines, booked, now)
        if fallback is None or key < fallback[0]:
            fallback = (key, chosen, candidates)
    if fallback is not None:
        return _book_placed(cfg, need, fallback[1], fallback[2], timelines, booked, now)
    weeks = f"weeks {first + 1}-{first + PLACEMENT_WEEKS}"
    return Unplaced(need.key, f"no slot in {weeks} of the program (before {need.last_day.isoformat()})")


def _free_uid(uid: str, taken: set[str]) -> str:
    """`uid`, or `uid` with a generation number when an earlier series of the same need still holds it
    (a coach change ends the old series and starts a new one: a UID is never reused for other events)."""
    if uid not in taken:
        return uid
    local, _, domain = uid.partition("@")
    generation = 2
    while f"{local}-{generation}@{domain}" in taken:
        generation += 1
    return f"{local}-{generation}@{domain}"


def _skip_one_to_one_weeks(spec: SeriesSpec, booked: Sequence[BookedSeries]) -> SeriesSpec:
    """A check-in in a week that already has the coachee's one-to-one is excluded (EXDATE): they meet anyway."""
    coachee = {a.person_id for a in spec.attendees}
    weeks = {o.start.astimezone(spec.zone).isocalendar()[:2] for s in booked
             if s.spec.kind is SessionKind.INDIVIDUAL and coachee & {a.person_id for a in s.spec.attendees}
             for o in s.occurrences() if not o.cancelled}
    skipped = tuple(rid for rid in spec.original_starts() if rid.astimezone(spec.zone).isocalendar()[:2] in weeks)
    return replace(spec, exdates=tuple(sorted(set(spec.exdates) | set(skipped))))


def _book_placed(cfg: ProgramConfig, need: SeriesNeed, chosen: Candidate, candidates: Sequence[Candidate],
                 timelines: Timelines, booked: Sequence[BookedSeries], now: datetime) -> BookedSeries:
    """The series starting at `chosen`, with turns taken and its whole life repaired, recorded in `timelines`."""
    earliest = now + cfg.scheduling.notice
    spec = _spec(cfg, need, chosen.start)
    spec = replace(spec, uid=_free_uid(spec.uid, {b.spec.uid for b in booked}))
    if need.kind is SessionKind.CHECK_IN:
        spec = _skip_one_to_one_weeks(spec, booked)
    series = BookedSeries(spec, overrides=_rotation(spec, chosen, candidates, timelines, earliest))
    timelines.book(series)
    rules = repair_rules(cfg, now, lookahead=None)
    made_up = keep_off_blackouts(series, timelines, rules, cfg.scheduling.make_up_blackouts)
    if made_up is not None:
        series = made_up
        timelines.book(series)
    overrides, _ = repair(series, timelines, rules)
    if overrides is not None:
        series = replace(series, overrides=overrides)
        timelines.book(series)
    return series


def _judge(cfg: ProgramConfig, need: SeriesNeed, candidates: Sequence[Candidate], timelines: Timelines,
           booked: Sequence[BookedSeries], earliest: datetime) -> list[tuple]:
    """How a series starting at each of `candidates` would fare over its whole life; lower is better.
    Every occurrence of every candidate is costed in one pass over the attendees' timelines."""
    lives = [[o for o in _spec(cfg, need, c.start).occurrences() if o.start >= earliest] for c in candidates]
    everything = [o for life in lives for o in life]
    if not everything:
        return [(0, 0, 0, _same_day_load(need, c, booked), rank_key(c)) for c in candidates]
    found = timelines.costs(np.array([seconds(o.start) for o in everything], dtype=np.int64),
                            np.array([seconds(o.end) for o in everything], dtype=np.int64), need.everyone(), need.key)
    misfit, burden, unsocial = ~found.fits, found.burden, found.unsocial_total
    judged, first = [], 0
    for candidate, life in zip(candidates, lives, strict=True):
        part = slice(first, first + len(life))
        first += len(life)
        judged.append((int(np.count_nonzero(misfit[part])), int(burden[part].sum()), int(unsocial[part].sum()),
                       _same_day_load(need, candidate, booked), rank_key(candidate)))
    return judged


def _same_day_load(need: SeriesNeed, candidate: Candidate, booked: Sequence[BookedSeries]) -> int:
    """For a one-to-one, how many of the coach's one-to-ones already fall on that weekday: spread the week."""
    if need.kind is not SessionKind.INDIVIDUAL:
        return 0
    zone = ZoneInfo(need.host.timezone)
    weekday = candidate.start.astimezone(zone).weekday()
    return sum(1 for s in booked if s.spec.kind is SessionKind.INDIVIDUAL
               and s.spec.host.person_id == need.host.person_id
               and s.spec.start.astimezone(zone).weekday() == weekday)


def _rotation(spec: SeriesSpec, chosen: Candidate, candidates: Sequence[Candidate], timelines: Timelines,
              earliest: datetime) -> tuple[Override, ...]:
    """Where the best slot leaves someone out of hours, take turns with slots of no more strain that burden others.

    Occurrence n takes a slot of turn n mod k, the k turns being the sets of
    people such slots leave out of hours, at the same weekday and time of the host's clock
    as that slot in the first week; a turn that would collide with someone's
    calendar that week passes to the next slot that does not.
    """
    if chosen.fits_everyone or chosen.conflicts or spec.every is None:
        return ()
    turns: dict[frozenset[str], list[Candidate]] = {frozenset(chosen.out_of_hours): [chosen]}
    for candidate in candidates:
        # No more strain than the best slot: the repair step keeps what is no worse than that.
        if candidate is chosen or candidate.conflicts or candidate.strain > chosen.strain:
            continue
        turns.setdefault(frozenset(candidate.out_of_hours), []).append(candidate)
    if len(turns) == 1:
        return ()
    order = list(turns.values())
    zone = spec.zone
    first = chosen.start.astimezone(zone)
    overrides = []
    for index, occurrence in enumerate(spec.occurrences()):
        if occurrence.start < earliest:
            continue
        start = _take_turn(spec, occurrence, order[index % len(order)], first, timelines)
        if start is not None and start != occurrence.recurrence_id:
            overrides.append(Override(occurrence.recurrence_id, start, start + spec.length))
    return tuple(overrides)


def _take_turn(spec: SeriesSpec, occurrence: Occurrence, slots: Sequence[Candidate], first: datetime,
               timelines: Timelines) -> datetime | None:
    """The first of `slots`, carried to this occurrence's week, that collides with nobody's calendar."""
    zone = spec.zone
    for slot in slots:
        local = slot.start.astimezone(zone)
        day = occurrence.recurrence_id.astimezone(zone).date() + (local.date() - first.date())
        start = datetime.combine(day, local.time(), zone).astimezone(UTC)
        if not timelines.cost(Interval(start, start + spec.length), spec.everyone(), spec.key).conflicts:
            return start
    return None


def _within_daily_limit(
    cfg: ProgramConfig, need: SeriesNeed, candidates: Sequence[Candidate], booked: Sequence[BookedSeries]
) -> list[Candidate]:
    """One-to-ones only: drop candidates on days the coach already has the most one-to-ones allowed."""
    if need.kind is not SessionKind.INDIVIDUAL:
        return list(candidates)
    zone = ZoneInfo(need.host.timezone)
    per_day: dict[date, int] = {}
    for series in booked:
        if series.spec.kind is SessionKind.INDIVIDUAL and series.spec.host.person_id == need.host.person_id:
            for occurrence in series.occurrences()[:4]:
                day = occurrence.start.astimezone(zone).date()
                per_day[day] = per_day.get(day, 0) + 1
    return [c for c in candidates
            if per_day.get(c.start.astimezone(zone).date(), 0) < cfg.scheduling.max_individual_per_day]


def _spec(cfg: ProgramConfig, need: SeriesNeed, start: datetime) -> SeriesSpec:
    zone = ZoneInfo(need.host.timezone)
    local_start = start.astimezone(zone)
    until = None
    if need.every is not None:
        until = datetime.combine(need.last_day, time(23, 59, 59), cfg.program.zone).astimezone(UTC)
    draft = SeriesSpec(
        key=need.key, uid=series_uid(cfg, need.key), kind=need.kind, title=need.title, timezone=need.host.timezone,
        start=local_start, length=need.length, host=need.host, attendees=need.attendees, every=need.every,
        until=until, team_id=need.team_id, description=f"{cfg.program.name}. Organised by {cfg.organizer.name}.",
    )
    blackout = cfg.program.blackout_days()
    exdates = tuple(rid for rid in draft.original_starts()
                    if rid.astimezone(cfg.program.zone).date() in blackout)
    if not exdates:
        return draft
    return SeriesSpec(**{**draft.__dict__, "exdates": exdates})
