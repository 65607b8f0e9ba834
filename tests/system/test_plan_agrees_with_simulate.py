"""`coachd plan` before the program and `coachd simulate` of the same config book the same program: the
simulation's clock starts early enough that the notice period does not push its kickoffs later."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

import icalendar
from click.testing import CliRunner

from coachd.cli.commands import main
from coachd.config import load_config
from coachd.model.actions import BookSeries
from coachd.model.types import UTC, SessionKind
from coachd.plan.planner import mail_lead, plan
from coachd.reporting.dry_run import observed_for_plan
from coachd.runtime.simulator import simulation_start
from tests.support.simulation import EXAMPLE


def simulated_kickoffs(out: Path) -> dict[str, datetime]:
    """Each kickoff's start, by UID, as the simulation's calendar holds it."""
    found: dict[str, datetime] = {}
    for path in sorted((out / "calendar").glob("*.ics")):
        for event in icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
            if str(event.get("X-COACHD-KIND")) == "kickoff" and "RECURRENCE-ID" not in event:
                found[str(event["UID"])] = event.decoded("DTSTART").astimezone(UTC)
    return found


def test_plan_and_simulate_book_every_kickoff_at_the_same_time(twelve_weeks, tmp_path):
    out, _ = twelve_weeks
    cfg = load_config(EXAMPLE)
    # As an admin plans: a few weeks ahead, on a state nothing ran in yet.
    now = datetime.combine(cfg.program.starts - timedelta(weeks=4), time(9), cfg.program.zone)
    observed, _ = observed_for_plan(cfg, tmp_path / "fresh", now)
    planned = {a.series.spec.uid: a.series.occurrences()[0].start
               for a in plan(cfg, observed, now, session_mail=False, program_mail=False).actions
               if isinstance(a, BookSeries) and a.series.spec.kind is SessionKind.KICKOFF}
    assert len(planned) == len(cfg.teams)
    assert simulated_kickoffs(out) == planned
    # Nothing pushed them past the first days of the program (the notice once did, by two days).
    assert {start.astimezone(cfg.program.zone).date() for start in planned.values()} <= {
        cfg.program.starts, cfg.program.starts + timedelta(days=1)}


def test_the_plan_command_shows_the_day_the_simulation_booked(twelve_weeks, tmp_path):
    out, _ = twelve_weeks
    cfg = load_config(EXAMPLE)
    result = CliRunner().invoke(main, ["plan", str(EXAMPLE), "--state", str(tmp_path / "fresh"),
                                       "--at", (cfg.program.starts - timedelta(weeks=4)).isoformat()],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for uid, start in simulated_kickoffs(out).items():
        shown = result.output[:result.output.index(f"series {uid}")]
        shown = shown[shown.rindex("program kickoff [to book]"):]
        local = start.astimezone(cfg.program.zone)
        day = f"{local:%a} {local.day} {local:%b}"
        assert re.search(rf"┃ {day} +┃", shown) and f"┃ {local:%H:%M} " in shown, (uid, day, shown)


def test_the_simulation_starts_before_the_program_by_its_notice_and_the_first_agendas_lead():
    cfg = load_config(EXAMPLE)
    first_day = datetime.combine(cfg.program.starts, time(0), cfg.program.zone)
    start = simulation_start(cfg)
    assert start + cfg.scheduling.notice <= first_day, "the planner may book from the program's first day"
    assert start + mail_lead(cfg) <= first_day, "the first sessions' agendas fall due after the start"
    assert start == (first_day - max(cfg.scheduling.notice, mail_lead(cfg))).astimezone(UTC)
    # --from is taken as said: midnight of that day in the program's zone.
    assert simulation_start(cfg, date(2027, 2, 1)) == datetime(2027, 2, 1, tzinfo=cfg.program.zone).astimezone(UTC)
