"""From a program's config to the series it needs, each placed in its first week."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from daemon.core.intervals import merge
from daemon.core.slots import Availability, Candidate, find_slots
from daemon.core.types import UTC, Attendee, BookedSeries, Interval, Role, SeriesSpec, SessionKind

if TYPE_CHECKING:
    from daemon.config import ProgramConfig

# How many weeks after the intended first week we look before giving up on placing a series.
PLACEMENT_WEEKS = 3


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


def needs(cfg: ProgramConfig) -> list[SeriesNeed]:
    """Every series the config asks for, in booking order (group before one-to-ones, so those fit around it)."""
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
    return result


def availability(cfg: ProgramConfig, person_id: str, busy: Sequence[Interval]) -> Availability:
    person = cfg.person(person_id)
    return Availability(person.id, person.zone, (person.hours.start, person.hours.end), person.days, tuple(busy))


def place(
    cfg: ProgramConfig,
    need: SeriesNeed,
    busy: Mapping[str, Sequence[Interval]],
    booked: Sequence[BookedSeries],
    now: datetime,
) -> SeriesSpec | Unplaced:
    """Pick the first occurrence of `need` in its first week and turn it into a series spec.

    Other booked series count as busy time for their attendees (with the
    configured buffer for the host), so one-to-ones fit around group sessions.
    """
    host_zone = ZoneInfo(need.host.timezone)
    earliest = now + cfg.scheduling.notice
    blackout = cfg.program.blackout_days()
    for week in range(need.first_week, need.first_week + PLACEMENT_WEEKS):
        start = max(program_week_start(cfg, week), earliest,
                    datetime.combine(cfg.program.starts, time(0), cfg.program.zone))
        end = min(program_week_start(cfg, week + 1),
                  datetime.combine(need.last_day + timedelta(days=1), time(0), cfg.program.zone))
        if start >= end:
            continue
        window = Interval(start.astimezone(UTC), end.astimezone(UTC))
        people = [availability(cfg, a.person_id, _busy_with_bookings(cfg, a.person_id, busy, booked, window))
                  for a in need.everyone()]
        candidates = find_slots(people, window, need.length, host_zone=host_zone, blackout=blackout,
                                blackout_zone=cfg.program.zone, limit=40)
        chosen = _respect_daily_limit(cfg, need, candidates, booked)
        if chosen is not None:
            return _spec(cfg, need, chosen.start)
    return Unplaced(need.key, f"no slot in weeks {need.first_week + 1}-{need.first_week + PLACEMENT_WEEKS}")


def _busy_with_bookings(
    cfg: ProgramConfig, person_id: str, busy: Mapping[str, Sequence[Interval]],
    booked: Sequence[BookedSeries], window: Interval,
) -> list[Interval]:
    spans = list(busy.get(person_id, ()))
    buffer = cfg.scheduling.buffer
    for series in booked:
        if person_id not in {a.person_id for a in series.spec.everyone()}:
            continue
        for occurrence in series.occurrences():
            if occurrence.start < window.end + buffer and occurrence.end > window.start - buffer:
                spans.append(Interval(occurrence.start - buffer, occurrence.end + buffer))
    return merge(spans)


def _respect_daily_limit(
    cfg: ProgramConfig, need: SeriesNeed, candidates: Sequence[Candidate], booked: Sequence[BookedSeries]
) -> Candidate | None:
    if need.kind is not SessionKind.INDIVIDUAL:
        return candidates[0] if candidates else None
    zone = ZoneInfo(need.host.timezone)
    per_day: dict[date, int] = {}
    for series in booked:
        if series.spec.kind is SessionKind.INDIVIDUAL and series.spec.host.person_id == need.host.person_id:
            for occurrence in series.occurrences()[:4]:
                day = occurrence.start.astimezone(zone).date()
                per_day[day] = per_day.get(day, 0) + 1
    for candidate in candidates:
        if per_day.get(candidate.start.astimezone(zone).date(), 0) < cfg.scheduling.max_individual_per_day:
            return candidate
    return None


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
