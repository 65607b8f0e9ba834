"""`coachd plan`: what would be booked, in every attendee's own time, with conflicts and burden."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from daemon.config import ProgramConfig
from daemon.core.actions import BookSeries
from daemon.core.observed import Observed
from daemon.core.planner import plan
from daemon.core.series import availability
from daemon.core.slots import Candidate, evaluate
from daemon.core.types import UTC, BookedSeries, Interval, Occurrence
from daemon.providers.base import BusySourceError
from daemon.providers.busy_ics import IcsBusySource
from daemon.views.state import read_observed


def observed_for_plan(cfg: ProgramConfig, state: Path) -> tuple[Observed, list[str]]:
    """What is booked (if the state holds anything) and everyone's busy times, read live."""
    base, warnings = read_observed(cfg, state)
    source = IcsBusySource({p.id: p.busy for p in cfg.people if p.busy}, cfg.base_dir,
                           zones={p.id: p.timezone for p in cfg.people})
    start = datetime.combine(cfg.program.starts - timedelta(weeks=1), datetime.min.time(), cfg.program.zone)
    end = datetime.combine(cfg.program.ends + timedelta(weeks=1), datetime.min.time(), cfg.program.zone)
    window = Interval(start.astimezone(UTC), end.astimezone(UTC))
    busy = dict(base.busy)
    for person in cfg.people:
        if person.busy:
            try:
                busy[person.id] = source.busy(person.id, window)
            except BusySourceError as error:
                warnings.append(f"busy times of {person.id} unavailable: {error}")
    return Observed(bookings=base.bookings, busy=busy, queued=base.queued, replies=base.replies), warnings


def show_plan(console: Console, cfg: ProgramConfig, state: Path, now: datetime | None, shown: int) -> None:
    observed, warnings = observed_for_plan(cfg, state)
    now = now or datetime.now(UTC)
    result = plan(cfg, observed, now, session_mail=False, program_mail=False)
    to_book = {a.series.spec.key: a for a in result.actions if isinstance(a, BookSeries)}
    everything: list[tuple[BookedSeries, str]] = [(b.series, "booked") for b in observed.bookings.values()
                                                 if b.series.spec.key not in to_book]
    everything += [(a.series, "to book" if a.series.sequence == 0 else "to update") for a in to_book.values()]
    console.print(f"[bold]{cfg.program.name}[/] ({cfg.program.id}): plan as of "
                  f"{now.astimezone(cfg.program.zone):%Y-%m-%d %H:%M %Z}", highlight=False)
    burden: dict[str, float] = defaultdict(float)
    months = max(1.0, (cfg.program.ends - cfg.program.starts).days / 30.44)
    for series, state_label in sorted(everything, key=lambda s: (s[0].spec.start, s[0].spec.key)):
        console.print(_series_table(cfg, series, state_label, observed, now, shown, burden))
    for problem in result.problems:
        console.print(f"[yellow]not placed:[/] {problem}", highlight=False)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    table = Table(title="Out-of-hours burden (minutes per month, whole program)", header_style="bold")
    table.add_column("person")
    table.add_column("zone")
    table.add_column("min/month", justify="right")
    for person in cfg.people:
        table.add_row(person.name, person.timezone, f"{burden.get(person.id, 0.0) / months:.0f}")
    console.print(table)


def _series_table(cfg: ProgramConfig, series: BookedSeries, label: str, observed: Observed, now: datetime,
                  shown: int, burden: dict[str, float]) -> Table:
    spec = series.spec
    people = spec.everyone()
    table = Table(title=escape(f"{spec.title} [{label}]"), caption=f"{spec.uid}  {spec.rrule() or 'single event'}",
                  header_style="bold", title_justify="left")
    table.add_column("session")
    for person in people:
        table.add_column(f"{person.name} ({person.timezone})")
    occurrences = series.occurrences()
    for occurrence in occurrences:
        cost = _cost(cfg, series, occurrence, observed)
        for person_id, minutes in cost.out_of_hours.items():
            burden[person_id] += minutes
    upcoming = [o for o in occurrences if o.end > now][:shown]
    for occurrence in upcoming:
        cost = _cost(cfg, series, occurrence, observed)
        cells = []
        for person in people:
            local = occurrence.start.astimezone(person.zone)
            end = occurrence.end.astimezone(person.zone)
            cell = f"{local:%a %d %b %H:%M}-{end:%H:%M} {local:%Z}"
            if person.person_id in cost.out_of_hours:
                cell += f" [yellow]({cost.out_of_hours[person.person_id]} min out of hours)[/]"
            if person.person_id in cost.conflicts:
                cell += " [red](busy)[/]"
            cells.append(cell)
        table.add_row(occurrence.session_id.rpartition("/")[2], *cells)
    if not upcoming:
        table.add_row("(no occurrence after now)", *["" for _ in people])
    return table


def _cost(cfg: ProgramConfig, series: BookedSeries, occurrence: Occurrence, observed: Observed) -> Candidate:
    people = [availability(cfg, a.person_id, observed.busy.get(a.person_id, ()))
              for a in series.spec.everyone() if a.person_id in cfg.people_by_id]
    return evaluate(occurrence.start, occurrence.end - occurrence.start, people, occurrence.interval)
