"""Running jobs: a failure is logged once per change of state and retried with backoff, never fatal;
SIGTERM stops the daemon within seconds whatever job is running."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType

from coachd.runtime.jobs import Job, JobOutcome
from coachd.runtime.systemd_notify import Notifier
from coachd.runtime.wiring import ProgramRuntime, Stopping
from coachd.store import job_runs_repo

log = logging.getLogger("coachd.runner")

# A job that keeps failing the same way is named again at most this often ("still failing").
FAILURE_REMINDER = timedelta(hours=1)
# A failed job is tried again after min(its interval, backoff): 1 s, 2 s, 4 s ... up to 5 minutes.
FIRST_BACKOFF = timedelta(seconds=1)
LONGEST_BACKOFF = timedelta(minutes=5)
# After SIGTERM, how long a job may run on to its next cancellation point before it is interrupted where
# it stands. Safe anywhere: every action is idempotent, database sessions roll back, files are replaced
# atomically. Well under systemd's TimeoutStopSec=60 with the mail sender's own stop grace after it.
STOP_GRACE_SECONDS = 5.0
# Should a job sit in a call that signals cannot interrupt, the process exits this long after the grace.
FORCED_EXIT_SECONDS = 10.0


def backoff(failures: int) -> timedelta:
    """How long after its `failures`-th failure in a row a job is tried again at the soonest."""
    if failures <= 0:
        return timedelta(0)
    return min(FIRST_BACKOFF * (2 ** min(failures - 1, 20)), LONGEST_BACKOFF)


def _signature(error: BaseException) -> str:
    """What makes two failures "the same": the error's type and errno, not its text (which may carry
    times, paths or counts that change at every attempt and would defeat the once-per-state rule)."""
    kind = f"{type(error).__module__}.{type(error).__qualname__}"
    number = getattr(error, "errno", None)
    return f"{kind}[{number}]" if isinstance(number, int) else kind


@dataclass
class FailureStreak:
    """A job failing run after run: what the log has said about it so far."""

    count: int
    since: datetime
    signature: str
    reminded: datetime
    record_warned: bool = False


class JobRunner:
    """Runs one job at a time for a program and keeps the record `coachd status` shows.

    Each failure is recorded in job_runs, but logged once per change of state: the first failure with
    its traceback, nothing while the same error repeats but "still failing" once an hour, a different
    error with its traceback, and "recovered" once. `failures(name)` and `retry_after(name)` say how a
    caller with a loop of its own (the mail sender) should back off; `run` returns None on failure."""

    def __init__(self, program: ProgramRuntime, jobs: Sequence[Job], reminder: timedelta = FAILURE_REMINDER) -> None:
        self.program = program
        self.jobs = list(jobs)
        self.reminder = reminder
        self._streaks: dict[str, FailureStreak] = {}

    def failures(self, name: str) -> int:
        """How many times in a row job `name` has failed (0: its last run succeeded)."""
        streak = self._streaks.get(name)
        return streak.count if streak else 0

    def retry_after(self, name: str) -> timedelta | None:
        """The backoff before job `name` is tried again, None when it is not failing."""
        failures = self.failures(name)
        return backoff(failures) if failures else None

    def run(self, job: Job, now: datetime) -> JobOutcome | None:
        try:
            outcome = job.run(now)
        except Exception as error:  # noqa: BLE001 - a failing job must never stop the daemon
            self._failed(job, now, error)
            return None
        self._succeeded(job, now)
        return outcome

    def _failed(self, job: Job, now: datetime, error: Exception) -> None:
        signature = _signature(error)
        streak = self._streaks.get(job.name)
        if streak is None:
            streak = self._streaks[job.name] = FailureStreak(1, now, signature, now)
            log.error("job %s failed at %s (program %s): %s: %s; retrying in %s", job.name, now.isoformat(),
                      self.program.id, type(error).__name__, error, backoff(1), exc_info=error)
        else:
            streak.count += 1
            if signature != streak.signature:
                streak.signature, streak.reminded = signature, now
                log.error("job %s failing differently (attempt %d since %s, program %s): %s: %s", job.name,
                          streak.count, streak.since.isoformat(), self.program.id, type(error).__name__, error,
                          exc_info=error)
            elif now - streak.reminded >= self.reminder:
                streak.reminded = now
                log.error("job %s still failing: %d attempts since %s (program %s), last: %s: %s; retrying every %s",
                          job.name, streak.count, streak.since.isoformat(), self.program.id, type(error).__name__,
                          error, backoff(streak.count))
        self._record_failure(job, now, error, streak)

    def _succeeded(self, job: Job, now: datetime) -> None:
        streak = self._streaks.pop(job.name, None)
        if streak is not None:
            log.warning("job %s recovered at %s after %d failure%s since %s (program %s)", job.name, now.isoformat(),
                        streak.count, "" if streak.count == 1 else "s", streak.since.isoformat(), self.program.id)

    def _record_failure(self, job: Job, now: datetime, error: Exception, streak: FailureStreak) -> None:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        try:
            with self.program.store.session() as db:
                job_runs_repo.record_failure(db, self.program.id, job.name, now, text)
        except Exception as failure:  # noqa: BLE001 - the store itself may be what failed (a full disk)
            if not streak.record_warned:  # once per streak, like the failure itself
                streak.record_warned = True
                log.warning("could not record the failure of job %s: %s: %s", job.name, type(failure).__name__,
                            failure)


class JobInterrupted(BaseException):
    """Raised in the main thread when a job runs on past the stop grace (see STOP_GRACE_SECONDS)."""


class Daemon:
    """`coachd run`: the jobs at their intervals on the system clock, until SIGTERM or SIGINT.

    A stop is asked of the running job at its cancellation points (`ProgramRuntime.raise_if_stopping`,
    between actions, messages and people); a job still running `grace` seconds later is interrupted by
    SIGALRM wherever it is. systemd hears READY, WATCHDOG (from the loop and every cancellation point,
    so a hung job stops the pings), STATUS and STOPPING."""

    def __init__(self, runner: JobRunner, notifier: Notifier | None = None, grace: float = STOP_GRACE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], object] | None = None) -> None:
        self.runner = runner
        self.notifier = notifier or Notifier()
        self.grace = grace
        # Tests drive the schedule with a clock of their own: `wait(seconds)` is the idle wait.
        self.monotonic = monotonic
        self.stopping = threading.Event()
        self.wait = wait or self.stopping.wait
        self._in_job: str | None = None
        self._interrupted = False
        self._forced_exit: threading.Timer | None = None

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stopping.is_set():
            if self._in_job is not None and not self._interrupted:
                log.warning("received %s again: interrupting job %s now", name, self._in_job)
                self._interrupt()
            return
        self.stopping.set()
        self.runner.program.stop_requested.set()
        self.notifier.stopping(f"stopping on {name}")
        if self._in_job is None:
            log.info("received %s: exiting", name)
            return
        log.info("received %s: stopping job %s at its next safe point, or interrupting it in %.0f s",
                 name, self._in_job, self.grace)
        signal.setitimer(signal.ITIMER_REAL, max(self.grace, 0.001))
        self._forced_exit = threading.Timer(self.grace + FORCED_EXIT_SECONDS, self._exit_now)
        self._forced_exit.daemon = True
        self._forced_exit.start()

    def _on_alarm(self, _signum: int, _frame: FrameType | None) -> None:
        if self._in_job is not None and not self._interrupted:
            log.warning("job %s still running %.0f s after the stop request: interrupting it", self._in_job,
                        self.grace)
            self._interrupt()

    def _interrupt(self) -> None:
        self._interrupted = True
        raise JobInterrupted(f"job {self._in_job} interrupted to stop")

    def _exit_now(self) -> None:
        """Last resort, from a timer thread: the main thread sits in a call no signal interrupts."""
        log.critical("job %s could not be interrupted within %.0f s of the stop request; exiting now",
                     self._in_job, self.grace + FORCED_EXIT_SECONDS)
        logging.shutdown()
        os._exit(1)

    def serve(self) -> None:
        handlers = {signal.SIGTERM: self.stop, signal.SIGINT: self.stop, signal.SIGALRM: self._on_alarm}
        previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        program = self.runner.program
        program.on_checkpoint = self.notifier.watchdog
        jobs = self.runner.jobs
        due = {job.name: self.monotonic() for job in jobs}  # everything once at start, in order
        self.notifier.ready(f"serving program {program.id}")
        first_pass = True
        try:
            while not self.stopping.is_set():
                self.notifier.watchdog()
                for job in jobs:
                    if self.stopping.is_set():
                        break
                    if due[job.name] <= self.monotonic():
                        due[job.name] = self.monotonic() + self._run(job).total_seconds()
                if first_pass and not self.stopping.is_set():
                    first_pass = False
                    log.info("coachd running program %s with jobs %s", program.id,
                             ", ".join(f"{j.name} every {j.interval}" for j in jobs))
                self.notifier.status(self._status())
                idle = min(due.values(), default=self.monotonic() + 30.0) - self.monotonic()
                ping = self.notifier.watchdog_interval / 3 if self.notifier.watchdog_interval else 30.0
                self.wait(min(max(idle, 0.2), 30.0, ping))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            program.on_checkpoint = None
            if self._forced_exit is not None:
                self._forced_exit.cancel()
        log.info("coachd stopped; last check at %s", program.clock.now().isoformat())

    def _run(self, job: Job) -> timedelta:
        """Run `job` unless stopping; how long until it is due again (its interval, or its backoff)."""
        try:
            try:
                self._in_job = job.name
                # A stop that came between the loop's check and the line above found no job to time.
                self.runner.program.raise_if_stopping()
                self.notifier.status(f"running job {job.name}")
                self.runner.run(job, self.runner.program.clock.now())
            finally:
                self._in_job = None
        except (Stopping, JobInterrupted) as stopped:
            how = "interrupted" if isinstance(stopped, JobInterrupted) else "stopped at a safe point"
            log.info("job %s %s; what it had not done is done at the next start", job.name, how)
        self.notifier.watchdog()
        retry = self.runner.retry_after(job.name)
        return min(job.interval, retry) if retry is not None else job.interval

    def _status(self) -> str:
        failing = [f"{job.name} ({self.runner.failures(job.name)}x)" for job in self.runner.jobs
                   if self.runner.failures(job.name)]
        return f"failing: {', '.join(failing)}" if failing else "idle"
