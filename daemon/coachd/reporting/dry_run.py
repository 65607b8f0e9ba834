"""`coachd plan`: what would be booked, in every attendee's own time, with conflicts and burden."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coachd.config import ProgramConfig
from coachd.model.actions import BookSeries
from coachd.model.observed import BusyError, Observed
from coachd.plan.own_sessions import without_own_sessions
from coachd.plan.planner import plan
from coachd.plan.repair import FAIR_WINDOW
from coachd.plan.series import availability
from coachd.plan.slots import Candidate, evaluate
from coachd.model.types import UTC, BookedSeries, Interval, Occurrence
from coachd.observe.busy import own_busy
from coachd.providers.busy import ask_within_limits
from coachd.reporting.series_table import Marks, day_and_time, series_view
from coachd.observe.readonly import clock_of, read_observed


def observed_for_plan(cfg: ProgramConfig, state: Path, now: datetime | None = None) -> tuple[Observed, list[str]]:
    """What is booked (if the state holds anything) and everyone's busy times, read live."""
    now = now or datetime.now(UTC)
    base, warnings = read_observed(cfg, state)
    source, people = own_busy(cfg)
    start = datetime.combine(cfg.program.starts - timedelta(weeks=1), datetime.min.time(), cfg.program.zone)
    end = datetime.combine(cfg.program.ends + timedelta(weeks=1), datetime.min.time(), cfg.program.zone)
    window = Interval(start.astimezone(UTC), end.astimezone(UTC))
    busy = dict(base.busy)
    errors = dict(base.busy_errors)
    read = set(base.busy_read or ())
    answer = ask_within_limits(source, people, window)
    for person in people:
        if person.id in answer.failures:
            errors[person.id] = BusyError(str(answer.failures[person.id]), now)
            if person.id in read:
                warnings.append(f"busy times of {person.id} unavailable: {answer.failures[person.id]}; "
                                "showing the last ones read")
        else:
            busy[person.id] = answer[person.id]
            read.add(person.id)
            errors.pop(person.id, None)
    # Everything else as the store has it (declines included); who was never read is unknown, not free.
    # Busy times the daemon read from the Workspace or tenant include the sessions coachd booked there.
    return replace(base, busy=busy, busy_errors=errors, busy_read=frozenset(read),
                   busy_shows_sessions=cfg.organizer.busy is not None), warnings


def show_plan(console: Console, cfg: ProgramConfig, state: Path, now: datetime | None, shown: int) -> None:
    now = now or clock_of(cfg, state)  # a simulated state's own clock, as status and report use
    observed, warnings = observed_for_plan(cfg, state, now)
    result = plan(cfg, observed, now, session_mail=False, program_mail=False)
    to_book = {a.series.spec.key: a for a in result.actions if isinstance(a, BookSeries)}
    everything: list[tuple[BookedSeries, str]] = [(b.series, "booked") for b in observed.bookings.values()
                                                 if b.series.spec.key not in to_book]
    everything += [(a.series, "to book" if a.series.sequence == 0 else "to update") for a in to_book.values()]
    console.print(f"[bold]{cfg.program.name}[/] ({cfg.program.id}): plan as of "
                  f"{now.astimezone(cfg.program.zone):%Y-%m-%d %H:%M %Z}", highlight=False)
    burden: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    shares: dict[str, int] = {}
    console.print(f"Each session is headed by its start in the program's zone ({cfg.program.timezone}); "
                  "each row shows one attendee's own time.", highlight=False, markup=False)
    for series, state_label in sorted(everything, key=lambda s: (s[0].spec.start, s[0].spec.key)):
        per_occurrence: list[dict[str, int]] = []
        _tally(cfg, series, observed, burden, per_occurrence)
        upcoming = [o for o in series.occurrences() if o.end > now][:shown]
        console.print()
        for part in series_view(console, series, state_label, upcoming, cfg.program.zone,
                                _marks(cfg, series, observed)):
            console.print(part)
        for person, share in heaviest_shares(per_occurrence).items():
            shares[person] = max(share, shares.get(person, 0))
    for problem in result.problems:
        console.print(f"[yellow]not placed:[/] {problem}", highlight=False)
    for conflict in result.conflicts:
        # In the program's time, as the tables head each session (the log line has it in UTC).
        when = " ".join(day_and_time(conflict.start, cfg.program.zone))
        console.print(f"conflict: {conflict.series_key} {when}: {conflict.reason}", style="red", highlight=False,
                      markup=False)
    for hold in result.held:
        console.print(f"[bold red]{escape(hold.describe())}[/]", highlight=False)
    for waiting in result.waiting:
        console.print(f"[bold red]{escape(waiting.describe())}[/]", highlight=False)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(burden_table(cfg, burden, shares))


def heaviest_shares(per_occurrence: Sequence[Mapping[str, int]], window: int = FAIR_WINDOW) -> dict[str, int]:
    """Per person, the largest share (percent) of a series' out-of-hours minutes they carry over any `window`
    consecutive occurrences (the whole series when shorter): how well the turns are shared."""
    shares: dict[str, int] = {}
    for first in range(max(1, len(per_occurrence) - window + 1)):
        carried: dict[str, int] = defaultdict(int)
        for minutes in per_occurrence[first:first + window]:
            for person, value in minutes.items():
                carried[person] += value
        everyone = sum(carried.values())
        for person, value in carried.items():
            shares[person] = max(shares.get(person, 0), round(100 * value / everyone))
    return shares


def burden_table(cfg: ProgramConfig, burden: Mapping[str, Mapping[str, int]],
                 shares: Mapping[str, int] | None = None) -> Table:
    """Minutes out of hours per month for everyone who has any: who pays for the time zones; and each
    person's largest share of FAIR_WINDOW consecutive occurrences of a series: whether turns are taken."""
    months = sorted({month for per_person in burden.values() for month in per_person})
    people = [p for p in cfg.people if burden.get(p.id)]
    title = "Out-of-hours burden (minutes per month)"
    caption = (f"Turns: over any {FAIR_WINDOW} sessions in a row of a series, nobody carries more than about half "
               "of the out-of-hours minutes while a slot burdening someone else comparably (within 30 minutes, "
               "or an hour more at night) is free; a larger share means nobody else could take that turn.") if people else None
    table = Table(title=title, caption=caption, caption_justify="left", header_style="bold", title_justify="left",
                  min_width=len(title) + 2)
    table.add_column("month")
    for person in people:
        table.add_column(person.id, justify="right")
    for month in months:
        table.add_row(datetime.strptime(month, "%Y-%m").strftime("%b %Y"),
                      *(str(burden[p.id].get(month, 0) or "-") for p in people))
    if people:
        table.add_row("total", *(str(sum(burden[p.id].values())) for p in people), style="bold")
        if shares is not None:
            table.add_row(f"largest share of {FAIR_WINDOW} in a row",
                          *(f"{shares[p.id]}%" if p.id in shares else "-" for p in people))
    else:
        table.add_row("nobody: every session is in everyone's working hours")
    return table


def _tally(cfg: ProgramConfig, series: BookedSeries, observed: Observed, burden: dict[str, dict[str, int]],
           per_occurrence: list[dict[str, int]]) -> None:
    """Adds every session of `series` to the out-of-hours minutes per person and month, and to the series'
    own list of who carried how many minutes at each session."""
    for occurrence in series.occurrences():
        if occurrence.cancelled:
            continue
        cost = _cost(cfg, series, occurrence, observed)
        month = f"{occurrence.start.astimezone(cfg.program.zone):%Y-%m}"
        for person_id, minutes in cost.out_of_hours.items():
            burden[person_id][month] += minutes
        per_occurrence.append(dict(cost.out_of_hours))


def _marks(cfg: ProgramConfig, series: BookedSeries, observed: Observed) -> Callable[[Occurrence], Marks]:
    def marks(occurrence: Occurrence) -> Marks:
        cost = _cost(cfg, series, occurrence, observed)
        return Marks(cost.out_of_hours, cost.conflicts)
    return marks


def _cost(cfg: ProgramConfig, series: BookedSeries, occurrence: Occurrence, observed: Observed) -> Candidate:
    busy = observed.busy
    if observed.busy_shows_sessions:  # the series itself is not a conflict; another series at that time is
        busy = without_own_sessions(busy, [series])
    people = [availability(cfg, a.person_id, busy.get(a.person_id, ()))
              for a in series.spec.everyone() if a.person_id in cfg.people_by_id]
    return evaluate(occurrence.start, occurrence.end - occurrence.start, people, occurrence.interval)
