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
import signal
import time
from datetime import datetime, timedelta
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from pathlib import Path

from coachd.runtime.clock import SystemClock
from coachd.config import ProgramConfig
from coachd.execute.executor import ActionRecord, Executor
from coachd.runtime.jobs import Job, JobOutcome
from coachd.runtime.logs import setup_logging
from coachd.execute.outbox import drain, next_attempt
from coachd.runtime.wiring import ProgramRuntime, open_program
from coachd.runtime.runner import JobRunner

log = logging.getLogger("coachd.sender")

# How long a stop waits for the email in flight before the sender is killed; a killed sender at
# worst sends that one email again (the outbox's crash window). Under systemd's TimeoutStopSec=60
# (systemd/coachd.service), so the daemon is done before systemd kills what is left.
STOP_GRACE_SECONDS = 45.0
# How often an idle sender looks whether the daemon that started it is still there.
PARENT_CHECK_SECONDS = 2.0
# Never sleep less than this between drains, so a mail server failing at once is not spun on.
SHORTEST_WAIT = timedelta(seconds=1)


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
        self.restarts = 0

    def start(self) -> None:
        self._process = self._context.Process(
            target=serve, name="coachd-sender", daemon=True,
            args=(self.cfg, self.state_dir, self.interval, self.log_level, self._wake, self._stop))
        self._process.start()
        log.info("mail sender started (pid %s)", self._process.pid)

    def wake(self) -> None:
        """There may be mail to send now."""
        self._wake.set()

    def on_action(self, record: ActionRecord) -> None:
        """Executor listener: an email queued is an email to send."""
        if record.kind == "queue":
            self._wake.set()

    def watch(self, now: datetime) -> None:
        """The scheduler's `send` job: restart a sender that died (logged; its claims expire and
        another drain sends what it held), then wake it in case a retry has come due."""
        if self._process is not None and not self._process.is_alive() and not self._stop.is_set():
            log.error("mail sender (pid %s) exited with %s at %s; starting it again", self._process.pid,
                      self._process.exitcode, now.isoformat())
            self.restarts += 1
            self.start()
        self.wake()

    def stop(self) -> None:
        """Let the sender finish the email in flight and exit."""
        self._stop.set()
        self._wake.set()
        if self._process is None or self._process.pid is None:
            return  # never started (start itself failed)
        self._process.join(STOP_GRACE_SECONDS)
        if self._process.is_alive():
            log.warning("mail sender did not stop within %.0f s; killing it", STOP_GRACE_SECONDS)
            self._process.kill()
            self._process.join()


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
    program = open_program(cfg, state_dir, SystemClock(), locked=False)
    executor = Executor(program)

    def send(now: datetime) -> JobOutcome:
        drain(program, executor, now, stopping=stop.is_set)
        return JobOutcome()

    # The scheduler's runner: a failing drain is logged, recorded for `coachd status`, and retried.
    runner, job = JobRunner(program, []), Job("send", interval, send)
    parent = multiprocessing.parent_process()
    try:
        while not stop.is_set():
            wake.clear()  # before draining: a wake-up that comes during the drain is not lost
            now = program.clock.now()
            runner.run(job, now)
            deadline = time.monotonic() + _seconds_until_next(program, now, interval)
            # Short waits: a daemon killed outright (SIGKILL, a crash) must not leave its sender
            # draining on its own, with a config nobody holds the state's lock for any more.
            while not wake.is_set() and time.monotonic() < deadline:
                if parent is not None and not parent.is_alive():
                    log.error("the daemon that started this sender is gone; stopping")
                    return
                wake.wait(min(PARENT_CHECK_SECONDS, max(deadline - time.monotonic(), 0.0)))
    finally:
        program.sender.close()
        program.close()


def _seconds_until_next(program: ProgramRuntime, now: datetime, interval: timedelta) -> float:
    try:
        due = next_attempt(program)
    except Exception:  # noqa: BLE001 - an unreachable store is retried after the interval
        due = None
    wait = interval if due is None else min(interval, max(due - now, SHORTEST_WAIT))
    return wait.total_seconds()

