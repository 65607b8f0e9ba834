"""Series whose people have no working hour in common: what `coachd check` warns about before anything is booked.

Computed from working hours and days only (no busy times: those change, the config does not), week by
week over the program, because clocks change on different dates in different zones (a team may share
hours in January and none from April). For each week a session of the series falls in, the slot that
costs the least out-of-hours minutes is the one `find_slots` ranks first; the figures are the sums of
those least costs over the year, and who carries them in that slot.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from coachd.model.types import UTC, Interval, SessionKind
from coachd.plan import series as series_mod
from coachd.plan.slots import find_slots

if TYPE_CHECKING:
    from coachd.config import ProgramConfig

# The series a team or the coaches meet in together; one-to-ones are two people and are checked too.
CHECKED = (SessionKind.GROUP, SessionKind.CIRCLE, SessionKind.INDIVIDUAL)


@dataclass(frozen=True)
class NoSharedHours:
    """A series some of whose weeks have no slot inside everyone's working hours."""

    key: str
    title: str
    weeks: int  # sessions (weeks) with no slot in everyone's hours
    sessions: int  # sessions of the series checked
    first_week: date  # Monday (program zone) of the first such week
    carried: dict[str, int]  # person -> out-of-hours minutes over the year, in the least-costly slots
    least: int  # the least out-of-hours minutes one such session costs

    def describe(self) -> str:
        total = sum(self.carried.values())
        who = ", ".join(f"{person} {minutes:,} min" for person, minutes in
                        sorted(self.carried.items(), key=lambda item: (-item[1], item[0])))
        return (f"{self.key} ({self.title}): no hour in everyone's working hours for {self.weeks} of its "
                f"{self.sessions} sessions (from the week of {self.first_week.isoformat()}); at least "
                f"{self.least} out-of-hours minutes a session, {total:,} over the program, carried by {who}")


def no_shared_hours(cfg: ProgramConfig) -> list[NoSharedHours]:
    """Every checked series with weeks where its people's working hours never meet, in booking order."""
    found = []
    blackout = cfg.program.blackout_days()
    last_week = series_mod.program_weeks(cfg)
    for need in series_mod.needs(cfg):
        if need.kind not in CHECKED:
            continue
        people = [series_mod.availability(cfg, a.person_id) for a in need.everyone()]
        host_zone = need.host.zone
        step = max(1, need.every.days // 7) if need.every else last_week + 1
        carried: Counter[str] = Counter()
        weeks, sessions, least, first = 0, 0, None, None
        for week in range(need.first_week, last_week + 1, step):
            start = series_mod.program_week_start(cfg, week)
            if start.date() > need.last_day:
                break
            window = Interval(start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC))
            best = find_slots(people, window, need.length, host_zone=host_zone, blackout=blackout,
                              blackout_zone=cfg.program.zone, limit=1)
            if not best:  # a week wholly blacked out: no session
                continue
            sessions += 1
            if best[0].burden_minutes == 0:
                continue
            weeks += 1
            first = first or start.date()
            least = best[0].burden_minutes if least is None else min(least, best[0].burden_minutes)
            carried.update(best[0].out_of_hours)
        if weeks and first is not None and least is not None:
            found.append(NoSharedHours(need.key, need.title, weeks, sessions, first, dict(carried), least))
    return found
