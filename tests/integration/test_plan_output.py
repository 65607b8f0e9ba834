"""`coachd plan` as a new admin reads it on an 80-column terminal and a wider one: local times with their
zone's abbreviation instead of raw UTC ids, every name and zone whole, nothing clipped."""

from __future__ import annotations

import io
import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from coachd.config import ProgramConfig, load_config
from coachd.model.types import UTC, Attendee, BookedSeries, Override, Role, SeriesSpec, SessionKind
from coachd.reporting.dry_run import show_plan
from coachd.reporting.series_table import NO_MARKS, Marks, series_view

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
RAW_ID = re.compile(r"\d{8}T\d{6}Z")


@pytest.fixture(scope="module")
def cfg() -> ProgramConfig:
    return load_config(EXAMPLE)


def render(cfg: ProgramConfig, state: Path, width: int, shown: int = 3) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    # A month before the program, as an admin runs `coachd plan` before starting the daemon.
    show_plan(console, cfg, state, datetime.combine(cfg.program.starts - timedelta(days=34), time(9), cfg.program.zone),
              shown)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def section(output: str, title: str) -> str:
    """The lines of one series, from its title up to its `series UID` line."""
    start = output.index(title)
    return output[start:output.index("\nseries ", start)]


@pytest.mark.parametrize("width", [80, 120])
def test_an_admin_reads_local_times_and_whole_names_and_zones(cfg, tmp_path, width):
    output = render(cfg, tmp_path / "state", width)
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= width, "nothing runs past the terminal's edge"
    assert not RAW_ID.findall(output), "no raw UTC occurrence ids"
    assert "…" not in output, "nothing clipped with an ellipsis"
    for person in cfg.people:  # every one of them attends some series
        assert any(person.name in line for line in lines), f"{person.name} whole on one line"
        assert any(re.search(rf"│ {re.escape(person.timezone)} +│", line) for line in lines), (
            f"{person.timezone} whole, beside {person.name}")
    # The EMEA kickoff: headed by its start in the program's zone, each attendee in their own time and
    # with their zone's abbreviation (UTC-03 where tzdata has no letters, as in the emails).
    kickoff = section(output, "EMEA Strategic: program kickoff [to book]")
    assert re.search(r"┃ Mon 4 Jan +┃", kickoff) and re.search(r"┃ 03:00 CST +┃", kickoff)
    assert re.search(r"│ Lena Hoffmann +│ Mon 4 Jan +│", kickoff)
    assert re.search(r"│ Africa/Johannesburg +│ 11:00-12:30 SAST +│", kickoff)
    assert "single event" in kickoff
    americas = section(output, "Americas Enterprise: program kickoff [to book]")
    assert re.search(r"│ America/Sao_Paulo +│ 11:30-13:00 UTC-03 +│", americas)
    group = section(output, "EMEA Strategic: group coaching [to book]")
    assert "every week, 48 sessions, the last on Mon 6 Dec 2027" in group
    assert "series coachd-northwind-2027-group-emea@northwind.example" in output
    # Out of hours and moved sessions still say so.
    circle = section(output, "coaches' circle [to book]")
    assert "45 min out of" in circle and "moved from" in circle


def test_a_wider_terminal_shows_more_sessions_side_by_side(cfg, tmp_path):
    def side_by_side(width: int) -> list[int]:
        group = section(render(cfg, tmp_path / "state", width, shown=6), "EMEA Strategic: group coaching [to book]")
        return [line.count("┳") for line in group.splitlines() if line.startswith("┏")]  # sessions per table

    narrow, wide = side_by_side(80), side_by_side(120)
    assert sum(narrow) == sum(wide) == 6, "every session asked for is shown, in as many tables as it takes"
    assert max(narrow) < max(wide)


def person(person_id: str, name: str, zone: str, role: Role = Role.COACHEE) -> Attendee:
    return Attendee(person_id, name, f"{person_id}@example.org", zone, role)


@pytest.mark.parametrize("width", [50, 60, 70])
def test_a_long_name_stays_whole_and_a_long_zone_breaks_only_after_a_slash(width):
    host = person("sofia", "Sofía Fernández-Castillo", "America/Argentina/Buenos_Aires", Role.COACH)
    guest = person("li", "Li Wei", "Asia/Shanghai")
    start = datetime(2027, 1, 11, 13, 0, tzinfo=UTC)
    spec = SeriesSpec("individual:li", "uid-li@example.org", SessionKind.INDIVIDUAL, "One-to-one: Li Wei",
                      host.timezone, start, timedelta(minutes=30), host, (guest,), every=timedelta(weeks=2),
                      until=start + timedelta(weeks=10))
    moved = start + timedelta(weeks=2)
    series = BookedSeries(spec, overrides=(Override(moved, moved + timedelta(days=1),
                                                    moved + timedelta(days=1, minutes=30)),))
    upcoming = series.occurrences()[:3]
    marks = {o.start: Marks({"li": 30}, {"sofia"}) for o in upcoming}
    console = Console(file=io.StringIO(), width=width, color_system=None)
    for part in series_view(console, series, "to book", upcoming, host.zone, lambda o: marks.get(o.start, NO_MARKS)):
        console.print(part)
    assert isinstance(console.file, io.StringIO)
    output = console.file.getvalue()
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= width
    tables = output.count("┏")
    assert sum(1 for line in lines if re.match(r"│ Sofía Fernández-Castillo +│", line)) == tables, "name whole"
    # The zone is whole on one line, or (where it is wider than the name and the room) broken after "/".
    first_column = [m.group(1) for m in (re.match(r"│ (\S+) +│", line) for line in lines) if m]
    zone = "".join(part for part in first_column if part.startswith(("America/", "Argentina/", "Buenos_Aires")))
    assert zone == "America/Argentina/Buenos_Aires" * tables
    if width == 50:
        assert "America/Argentina/Buenos_Aires" not in output
    assert "30 min out of" in output and "busy" in output
    assert "moved from" in output and "Tue 26 Jan" in output  # the second session, a day later
    assert "every 2 weeks, 6 sessions, the last on Mon 22 Mar 2027" in " ".join(output.split())
    assert not RAW_ID.findall(output)
