"""Running jobs: one failure is logged and retried next cycle, never fatal; signals stop cleanly."""

from __future__ import annotations

import logging
import signal
import threading
import traceback
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

import schedule

from coachd.runtime.jobs import Job, JobOutcome
from coachd.runtime.wiring import ProgramRuntime
from coachd.store import job_runs_repo

log = logging.getLogger("coachd.runner")


class JobRunner:
    """Runs one job at a time for a program and keeps the record `coachd status` shows."""

    def __init__(self, program: ProgramRuntime, jobs: Sequence[Job]) -> None:
        self.program = program
        self.jobs = list(jobs)

    def run(self, job: Job, now: datetime) -> JobOutcome | None:
        try:
            return job.run(now)
        except Exception as error:  # noqa: BLE001 - a failing job must never stop the daemon
            log.error("job %s failed at %s (program %s): %s: %s; retrying next cycle", job.name,
                      now.isoformat(), self.program.id, type(error).__name__, error, exc_info=True)
            self._record_failure(job, now, error)
            return None

    def _record_failure(self, job: Job, now: datetime, error: Exception) -> None:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        try:
            with self.program.store.session() as db:
                job_runs_repo.record_failure(db, self.program.id, job.name, now, text)
        except Exception:  # noqa: BLE001 - the store itself may be what failed
            log.exception("could not record the failure of job %s", job.name)


class Daemon:
    """`coachd run`: the jobs at their intervals on the system clock, until SIGTERM or SIGINT."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.stopping = threading.Event()

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current job, then exiting", signal.Signals(signum).name)
        self.stopping.set()

    def serve(self) -> None:
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        scheduler = schedule.Scheduler()
        clock = self.runner.program.clock
        try:
            for job in self.runner.jobs:
                seconds = max(1, int(job.interval.total_seconds()))
                scheduler.every(seconds).seconds.do(self._run_unless_stopping, job)
                self._run_unless_stopping(job)  # everything once at start, not after a first interval
            log.info("coachd running program %s with jobs %s", self.runner.program.id,
                     ", ".join(f"{j.name} every {j.interval}" for j in self.runner.jobs))
            while not self.stopping.is_set():
                scheduler.run_pending()
                idle = scheduler.idle_seconds
                self.stopping.wait(timeout=min(max(idle or 0.0, 0.2), 30.0))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("coachd stopped; last check at %s", clock.now().isoformat())

    def _run_unless_stopping(self, job: Job) -> None:
        if not self.stopping.is_set():
            self.runner.run(job, self.runner.program.clock.now())
