"""A program that has ended: the daemon says so once in its log, `coachd status` every time."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta

from click.testing import CliRunner
from freezegun import freeze_time

from coachd.cli.commands import main
from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from tests.support.ticks import EXAMPLE, program_start, tick


def test_the_end_is_logged_once_however_often_the_plan_runs(tmp_path, caplog):
    cfg = load_config(EXAMPLE)
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    last_day = cfg.program.ends
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        runner = JobRunner(program, program_jobs(program, Executor(program)))
        plan = next(job for job in runner.jobs if job.name == "plan")
        caplog.set_level(logging.INFO, logger="coachd.jobs")
        zone = program.cfg.program.zone
        runner.run(plan, datetime.combine(last_day, time(23, 0), zone))
        assert "ended" not in caplog.text
        for hours in (1, 2, 30):
            runner.run(plan, datetime.combine(last_day, time(0), zone) + timedelta(days=1, hours=hours))
    finally:
        program.close()
    lines = [r.getMessage() for r in caplog.records if "ended on" in r.getMessage()]
    assert lines == [f"program {cfg.program.id} ended on {last_day}: nothing more is booked; mail already due is "
                     "still sent and replies still read; stop the daemon when its mail is out (`coachd status`)"]


def test_status_says_the_program_has_ended(tmp_path):
    cfg = load_config(EXAMPLE)
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    args = ["status", str(EXAMPLE), "--state", str(tmp_path)]
    with freeze_time(cfg.program.ends - timedelta(days=1)):
        before = CliRunner().invoke(main, args, catch_exceptions=False)
        assert json.loads(CliRunner().invoke(main, [*args, "--json"]).output)["ended"] is None
    with freeze_time(cfg.program.ends + timedelta(days=2)):
        after = CliRunner().invoke(main, args, catch_exceptions=False)
        data = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    assert "ended" not in before.output
    assert f"The program ended on {cfg.program.ends}" in after.output
    assert data["ended"] == cfg.program.ends.isoformat()
