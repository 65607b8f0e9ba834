"""One series as `coachd plan` shows it: its next sessions in each attendee's own time, laid out to fit the
terminal without cutting a name, a zone or a time in two.

One row per attendee and one column per session: a team grows the table downwards, not sideways, and a
terminal too narrow for every session side by side gets them in several tables instead of clipped cells.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from coachd.mail.filters import MONTHS, zone_abbreviation
from coachd.model.types import Attendee, BookedSeries, Occurrence

# Fixed English names, as in the emails: strftime's follow the host's locale.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# The narrowest a session's column gets: "10:00-11:00 CET" on one line, the day on the line above.
SESSION_WIDTH = 15
# Wide enough that measuring a table never clamps it: its true minimum width is wanted.
_UNBOUNDED = 10_000


@dataclass(frozen=True)
class Marks:
    """What `coachd plan` flags for one session: who is out of their hours (minutes), who is busy."""

    out_of_hours: Mapping[str, int]
    busy: Collection[str]


NO_MARKS = Marks({}, ())


def day_and_time(instant: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """("Mon 4 Jan", "10:00 CET"): an instant in `zone`, worded as the emails word it."""
    local = instant.astimezone(zone)
    return (f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}",
            f"{local:%H:%M} {zone_abbreviation(local)}")


def series_view(console: Console, series: BookedSeries, label: str, upcoming: Sequence[Occurrence],
                program_zone: ZoneInfo, marks: Callable[[Occurrence], Marks]) -> list[RenderableType]:
    """`series` as `coachd plan` prints it: its title, its `upcoming` sessions in as many tables as the
    console's width needs, then its rhythm and UID.

    The title and the lines below are printed apart from the tables: rich would wrap them to a table's
    width, cutting the UID. Each table holds as many sessions side by side as the width allows (at least
    one), each person's zone on one line where it fits and broken after a "/" where it does not.
    """
    title = Text(f"{series.spec.title} [{label}]", style="bold")
    below = Text(f"{cadence(series, program_zone)}\nseries {series.spec.uid}", style="dim")
    if not upcoming:
        held = [o for o in series.occurrences() if not o.cancelled]
        last = "; the last was {} {}".format(*day_and_time(held[-1].start, program_zone)) if held else ""
        return [title, Text(f"no session after now{last}"), below]
    cells = {occurrence: NO_MARKS if occurrence.cancelled else marks(occurrence) for occurrence in upcoming}
    tables: list[Table] = []
    for per_table in range(len(upcoming), 0, -1):
        for wrap_zones in (False, True):
            chunks = [upcoming[i:i + per_table] for i in range(0, len(upcoming), per_table)]
            tables = [_table(series, chunk, program_zone, cells, wrap_zones) for chunk in chunks]
            if all(_narrowest(console, table) <= console.width for table in tables):
                return [title, *tables, below]
    return [title, *tables, below]  # not even one session fits: rich wraps what it must


def cadence(series: BookedSeries, program_zone: ZoneInfo) -> str:
    """"every 2 weeks, 25 sessions, the last on Mon 13 Dec 2027", or "single event"."""
    spec = series.spec
    if spec.every is None:
        return "single event"
    weeks = spec.interval_weeks
    every = "every week" if weeks == 1 else f"every {weeks} weeks"
    sessions = [o for o in series.occurrences() if not o.cancelled]
    if not sessions:
        return every
    day, _ = day_and_time(sessions[-1].start, program_zone)
    count = f"{len(sessions)} session" + ("" if len(sessions) == 1 else "s")
    return f"{every}, {count}, the last on {day} {sessions[-1].start.astimezone(program_zone).year}"


def _table(series: BookedSeries, sessions: Sequence[Occurrence], program_zone: ZoneInfo,
           cells: Mapping[Occurrence, Marks], wrap_zones: bool) -> Table:
    people = series.spec.everyone()
    table = Table(header_style="bold")
    width = max(max(cell_len(p.name) for p in people), max(_longest_part(p.timezone) for p in people))
    labels = [_attendee(person, width if wrap_zones else None) for person in people]
    # Names never wrap, and the column is measured by its longest line (rich would count its longest
    # word): an admin reads each person's whole name on one line.
    table.add_column("attendee", no_wrap=True, min_width=max(line.cell_len for label in labels
                                                             for line in label.split()))
    for occurrence in sessions:
        table.add_column(_heading(occurrence, program_zone), min_width=SESSION_WIDTH)
    for person, label in zip(people, labels):
        row = [label, *(_cell(occurrence, person, cells[occurrence]) for occurrence in sessions)]
        table.add_row(*row)
    return table


def _heading(occurrence: Occurrence, program_zone: ZoneInfo) -> str:
    """The session's start in the program's zone; a session moved off its series' rhythm says from when."""
    day, time = day_and_time(occurrence.start, program_zone)
    heading = f"{day}\n{time}"
    if occurrence.cancelled:
        heading += "\ncancelled"
    elif occurrence.moved:
        heading += "\nmoved from\n" + "\n".join(day_and_time(occurrence.recurrence_id, program_zone))
    return escape(heading)


def _attendee(person: Attendee, width: int | None) -> Text:
    zone = person.timezone if width is None else "\n".join(_zone_lines(person.timezone, width))
    return Text(f"{person.name}\n{zone}")


def _cell(occurrence: Occurrence, person: Attendee, marks: Marks) -> Text:
    day, start = day_and_time(occurrence.start, person.zone)
    clock, _, abbreviation = start.partition(" ")
    end = occurrence.end.astimezone(person.zone)
    text = Text(f"{day}\n{clock}-{end:%H:%M} {abbreviation}", style="dim strike" if occurrence.cancelled else "")
    if occurrence.cancelled:
        text.append("\ncancelled", style="dim")
    if person.person_id in marks.out_of_hours:
        text.append(f"\n{marks.out_of_hours[person.person_id]} min out of hours", style="yellow")
    if person.person_id in marks.busy:
        text.append("\nbusy", style="red")
    return text


def _zone_parts(zone: str) -> list[str]:
    """"America/Argentina/Buenos_Aires" -> ["America/", "Argentina/", "Buenos_Aires"]."""
    return re.findall(r"[^/]+/?", zone)


def _longest_part(zone: str) -> int:
    return max(len(part) for part in _zone_parts(zone))


def _zone_lines(zone: str, width: int) -> list[str]:
    """The zone broken only after a "/", each line at most `width` long (or one part, if longer)."""
    lines: list[str] = []
    for part in _zone_parts(zone):
        if lines and len(lines[-1]) + len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return lines


def _narrowest(console: Console, table: Table) -> int:
    return console.measure(table, options=console.options.update_width(_UNBOUNDED)).minimum
