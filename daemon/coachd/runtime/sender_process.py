"""The daemon's mail sender: a process of its own that drains the outbox as soon as mail is queued.

Sending waits on a mail server for most of its time (four round trips an email), and a slow or
unreachable server would otherwise hold up calendar sync, planning and the inbox for as long as it
takes. In its own process the sender also runs on another core while the scheduler renders the
next emails. Both processes work on the same store: the outbox's claims (see `outbox.claim_many`)
already make any number of drainers send each email once, so nothing here needs to coordinate more
than "there is mail now".
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path

from coachd.config import ProgramConfig
from coachd.execute.executor import ActionRecord, Executor
from coachd.execute.outbox import drain, next_attempt
from coachd.runtime.clock import SystemClock
from coachd.runtime.jobs import Job, JobOutcome
from coachd.runtime.logs import setup_logging
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import ProgramRuntime, open_program

log = logging.getLogger("coachd.sender")

# How long a stop waits for the email in flight before the sender is killed; a killed sender at
# worst sends that one email again (the outbox's crash window). Under systemd's TimeoutStopSec=60
# (systemd/coachd.service), so the daemon is done before systemd kills what is left.
STOP_GRACE_SECONDS = 20.0
# How often an idle sender looks whether the daemon that started it is still there.
PARENT_CHECK_SECONDS = 2.0
# Senders that die sooner than this after their start, more than QUICK_DEATHS_FORGIVEN times in a
# row, are restarted after a growing delay.
QUICK_DEATH_SECONDS = 10.0
QUICK_DEATHS_FORGIVEN = 3
# Never sleep less than this between drains, so a mail server failing at once is not spun on.
SHORTEST_WAIT = timedelta(seconds=1)
# After a drain that failed as a whole (the store cannot be written: a full disk, a read-only state,
# PostgreSQL gone), wait this long, doubling with each failure in a row up to the longest, and
# whatever wakes the sender meanwhile: mail keeps being queued, and each wake-up would try again.
FIRST_BACKOFF_SECONDS = 1.0
LONGEST_BACKOFF_SECONDS = 300.0


class MailDispatcher:
    """Starts, wakes, watches and stops the sender process (`spawn`ed: it shares no open connection
    or lock with the daemon, and opens the store and the configured sender itself)."""

    def __init__(self, cfg: ProgramConfig, state_dir: Path, interval: timedelta, log_level: str = "info") -> None:
        self.cfg = cfg
        self.state_dir = state_dir
        self.interval = interval
        self.log_level = log_level
        self._context = multiprocessing.get_context("spawn")
        self._wake: Event = self._context.Event()
        self._stop: Event = self._context.Event()
        self._process: SpawnProcess | None = None
        self._started_at = 0.0
        self.restarts = 0
        # start, watch and stop come from the scheduler's thread and from the watcher's.
        self._lock = threading.RLock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            process = self._context.Process(
                target=serve, name="coachd-sender", daemon=True,
                args=(self.cfg, self.state_dir, self.interval, self.log_level, self._wake, self._stop))
            process.start()
            # Only a started process is published: the watcher joins whatever `_process` holds.
            self._process, self._started_at = process, time.monotonic()
            log.info("mail sender started (pid %s)", process.pid)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_exits, name="coachd-sender-watch", daemon=True)
                self._watcher.start()

    def _watch_exits(self) -> None:
        """Restart a sender as soon as it dies, not at the next `send` job: the new sender's first
        drain hands back the claims of the dead one at once (execute/outbox.py hand_back_orphans), so
        the emails it held are not stalled for the lease. After a few senders in a row that died
        within QUICK_DEATH of their start, each restart waits twice as long as the last (up to the
        `send` interval), so one that cannot start is not spun on."""
        quick_deaths = 0
        while not self._stop.is_set():
            process = self._process
            if process is None:
                return
            process.join(PARENT_CHECK_SECONDS)
            if self._stop.is_set() or not has_exited(process) or process is not self._process:
                continue
            quick_deaths = quick_deaths + 1 if time.monotonic() - self._started_at < QUICK_DEATH_SECONDS else 0
            if quick_deaths > QUICK_DEATHS_FORGIVEN:
                delay = min(2.0 ** (quick_deaths - QUICK_DEATHS_FORGIVEN), self.interval.total_seconds())
                if self._stop.wait(delay):
                    return
            try:
                self.watch(datetime.now(UTC))
            except Exception:
                log.exception("could not start the mail sender again")
                self._stop.wait(PARENT_CHECK_SECONDS)

    def wake(self) -> None:
        """There may be mail to send now."""
        self._wake.set()

    def on_action(self, record: ActionRecord) -> None:
        """Executor listener: an email queued is an email to send."""
        if record.kind == "queue":
            self._wake.set()

    def watch(self, now: datetime) -> None:
        """The scheduler's `send` job (and the watcher, as soon as the sender exits): restart a sender
        that died (logged; the new sender's first drain hands back what the dead one had claimed), then wake it in case a retry has come due."""
        with self._lock:
            if self._process is not None and has_exited(self._process) and not self._stop.is_set():
                self._process.join(1)  # reaped here or by the other thread: its exit code for the log
                log.error("mail sender (pid %s) exited with %s at %s; starting it again", self._process.pid,
                          self._process.exitcode, now.isoformat())
                self.restarts += 1
                self.start()
        self.wake()

    def stop(self) -> None:
        """Let the sender finish the email in flight and exit."""
        self._stop.set()
        self._wake.set()
        if self._watcher is not None:
            self._watcher.join(PARENT_CHECK_SECONDS * 2)
        if self._process is None or self._process.pid is None:
            return  # never started (start itself failed)
        self._process.join(STOP_GRACE_SECONDS)
        if self._process.is_alive():
            log.warning("mail sender did not stop within %.0f s; killing it", STOP_GRACE_SECONDS)
            self._process.kill()
            self._process.join()


def has_exited(process: SpawnProcess) -> bool:
    """Whether the process has ended, asked of its sentinel (closed by the kernel when it exits).
    Not `is_alive()`: that reaps the child with waitpid, and while one thread reaps it another
    thread's waitpid fails and reads "still alive" (the watcher and the `send` job ask at once)."""
    return bool(multiprocessing.connection.wait([process.sentinel], timeout=0))


def serve(cfg: ProgramConfig, state_dir: Path, interval: timedelta, log_level: str, wake: Event,
          stop: Event) -> None:
    """The sender process: drain, then sleep until woken, the next retry is due, or `interval`."""
    setup_logging(log_level)
    # Ctrl-C reaches the whole process group: the daemon decides when its sender stops. A SIGTERM
    # sent to every process of the service (systemd's default) stops it the same way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def terminate(_signum: int, _frame: object) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, terminate)
    if stop.is_set():
        return  # stopped while starting: nothing claimed yet, nothing to open
    program = open_program(cfg, state_dir, SystemClock(), locked=False)
    executor = Executor(program)
    parent = multiprocessing.parent_process()

    def parent_alive() -> bool:
        return parent is None or parent.is_alive()

    def stopping() -> bool:
        # Asked between emails: a daemon killed outright (SIGKILL, a crash) must not leave its
        # sender draining on its own, with a config nobody holds the state's lock for any more.
        return stop.is_set() or not parent_alive()

    def send(now: datetime) -> JobOutcome:
        drain(program, executor, now, stopping=stopping)
        return JobOutcome()

    # The scheduler's runner: a failing drain is logged, recorded for `coachd status`, and retried.
    runner, job = JobRunner(program, []), Job("send", interval, send)

    def drain_once() -> bool:
        return runner.run(job, program.clock.now()) is not None

    def next_wait() -> float:
        return _seconds_until_next(program, program.clock.now(), interval)

    try:
        SenderLoop(drain_once, next_wait, wake, stop, parent_alive).run()
    finally:
        program.sender.close()
        program.close()


class SenderLoop:
    """Drain, then wait until woken, the next retry is due or `interval` has passed; stop when told
    or when the daemon is gone. Time comes in through `monotonic` (tests pass a fake one, with a
    `wake` whose wait advances it)."""

    def __init__(self, drain_once: Callable[[], bool], next_wait: Callable[[], float], wake: Event,
                 stop: Event, parent_alive: Callable[[], bool],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.drain_once = drain_once
        self.next_wait = next_wait
        self.wake = wake
        self.stop = stop
        self.parent_alive = parent_alive
        self.monotonic = monotonic
        self.failures = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.wake.clear()  # before draining: a wake-up that comes during the drain is not lost
            if self.drain_once():
                self.failures = 0
                wait, wakeable = self.next_wait(), True
            else:
                # The runner has logged it (once per change of state, runtime/runner.py).
                self.failures += 1
                wait, wakeable = self.backoff(), False
            deadline = self.monotonic() + wait
            # Short waits: a daemon killed outright (SIGKILL, a crash) must not leave its sender
            # draining on its own, with a config nobody holds the state's lock for any more.
            while not self.stop.is_set() and self.monotonic() < deadline:
                if wakeable and self.wake.is_set():
                    break
                if not self.parent_alive():
                    log.error("the daemon that started this sender is gone; stopping")
                    return
                self.wake.wait(min(PARENT_CHECK_SECONDS, max(deadline - self.monotonic(), 0.0)))
                if not wakeable:
                    self.wake.clear()  # mail queued meanwhile waits for the end of the backoff

    def backoff(self) -> float:
        """1 s after the first failure in a row, doubling, at most 5 min."""
        return min(FIRST_BACKOFF_SECONDS * 2 ** (self.failures - 1), LONGEST_BACKOFF_SECONDS)


def _seconds_until_next(program: ProgramRuntime, now: datetime, interval: timedelta) -> float:
    try:
        due = next_attempt(program)
    except Exception:  # noqa: BLE001 - an unreachable store is retried after the interval
        due = None
    wait = interval if due is None else min(interval, max(due - now, SHORTEST_WAIT))
    return wait.total_seconds()
