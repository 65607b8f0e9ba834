"""Ticking the daemon's jobs against a real store, as a freshly started daemon would."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from coachd.execute.executor import Executor
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from coachd.store.models import ActionLog, Outbox, Series

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def program_start(cfg):
    return datetime.combine(cfg.program.starts, datetime.min.time(), cfg.program.zone)


def tick(state: Path, cfg, now: datetime, database_url: str | None = None):
    """One full pass of every job, as a freshly started daemon would do it."""
    if database_url:
        cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"url": database_url})})
    program = open_program(cfg, state, VirtualClock(now))
    records = []
    try:
        runner = JobRunner(program, program_jobs(program, Executor(program, records.append)))
        for job in runner.jobs:
            assert runner.run(job, now) is not None, f"job {job.name} failed"
        with program.store.session() as db:
            counts = {
                "series": db.scalar(select(func.count()).select_from(Series)),
                "outbox": db.scalar(select(func.count()).select_from(Outbox)),
                "actions": db.scalar(select(func.count()).select_from(ActionLog)),
            }
    finally:
        program.close()
    return records, counts
