"""The daemon's jobs and their cadence: sync calendars, plan and book, send mail, read the inbox, program mail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timedelta

from coachd.model.actions import BookSeries
from coachd.plan.planner import Plan, plan
from coachd.model.periods import program_end
from coachd.model.types import UTC
from coachd.execute.credential_alerts import alert_organizer
from coachd.execute.executor import Executor
from coachd.observe.calendar_sync import CalendarSync
from coachd.observe.inbox import read_inbox
from coachd.observe.observer import Observer
from coachd.execute.outbox import drain, next_attempt
from coachd.runtime.wiring import ProgramRuntime
from coachd.observe.coachee_states import refresh_states
from coachd.providers.base import CredentialsExpired

log = logging.getLogger("coachd.jobs")


@dataclass(frozen=True)
class JobOutcome:
    """What a run did: whether it changed anything others should react to, and when it next has work."""

    changed: bool = False
    next_due: datetime | None = None


@dataclass(frozen=True)
class Job:
    name: str
    interval: timedelta
    run: Callable[[datetime], JobOutcome]


# "Nothing to do until something else changes": the simulator sleeps such a job, the daemon polls it anyway.
WHEN_CHANGED = datetime.max.replace(tzinfo=UTC)


def program_jobs(program: ProgramRuntime, executor: Executor,
                 send: Callable[[datetime], JobOutcome] | None = None) -> list[Job]:
    """The daemon's jobs. `send` replaces sending in this process (`coachd run` has a sender
    process of its own, see daemon/coachd/runtime/sender_process.py; the simulator sends in line, on its clock)."""
    intervals = program.cfg.daemon
    if program.on_credentials_refused is None:
        program.on_credentials_refused = partial(alert_organizer, program)
    sync = CalendarSync(program, executor)
    # A provider that does not declare it is taken not to: its busy times are used whole, as before.
    observer = Observer(program.store, program.id,
                        busy_shows_sessions=bool(getattr(program.busy, "shows_sessions", False)))
    reported: set[str] = set()
    end = ProgramEnd(program)

    def plan_job(now: datetime) -> JobOutcome:
        end.note(now)
        return plan_and_book(program, executor, now, observer, reported)

    return [
        Job("sync", intervals.sync, lambda now: JobOutcome(sync.run(now))),
        Job("inbox", intervals.inbox, lambda now: read_replies(program, executor, now)),
        Job("plan", intervals.plan, plan_job),
        Job("digest", intervals.digest, lambda now: program_mail(program, executor, now, observer)),
        Job("send", intervals.send, send or (lambda now: send_due_mail(program, executor, now))),
    ]


class ProgramEnd:
    """Says once per daemon, in the log, that the program is over (`coachd status` says it every time)."""

    def __init__(self, program: ProgramRuntime) -> None:
        self.program = program
        self.noted = False

    def note(self, now: datetime) -> None:
        if self.noted or now < program_end(self.program.cfg):
            return
        self.noted = True
        log.info("program %s ended on %s: nothing more is booked; mail already due is still sent and replies "
                 "still read; stop the daemon when its mail is out (`coachd status`)", self.program.id,
                 self.program.cfg.program.ends.isoformat())


def plan_and_book(program: ProgramRuntime, executor: Executor, now: datetime, observer: Observer,
                  reported: set[str] | None = None) -> JobOutcome:
    observed = observer.observe()
    # Per attendee: whom the calendar invites itself gets none of coachd's iTIP mail, the others all of it.
    invites = program.calendar.capabilities.invites
    result = plan(program.cfg, observed, now, program_mail=False, calendar_invites=invites)
    _report(result, reported if reported is not None else set())
    applied = executor.apply(result.actions, observed, now)
    if applied and any(isinstance(a, BookSeries) for a in result.actions):
        # Bookings change what mail is due: plan again on what was just recorded.
        observed = observer.observe()
        again = plan(program.cfg, observed, now, program_mail=False, calendar_invites=invites)
        applied += executor.apply(again.actions, observed, now)
        result = again
    # Something that could not be placed, or booked, is tried again at the plan interval.
    deferred = now in executor.deferred.values() or not program.health("calendar").available(now)
    next_due = None if result.problems or deferred else (result.next_due or WHEN_CHANGED)
    return JobOutcome(applied > 0, next_due)


def _report(result: Plan, reported: set[str]) -> None:
    """Log what needs an admin (unplaceable series, conflicts, held cancellations) once, not every tick."""
    current = {*(f"plan: {p}" for p in result.problems), *(f"conflict: {c.describe()}" for c in result.conflicts),
               *(h.describe() for h in result.held)}
    for line in sorted(current - reported):
        log.warning("%s", line)
    reported.clear()
    reported.update(current)


def program_mail(program: ProgramRuntime, executor: Executor, now: datetime, observer: Observer) -> JobOutcome:
    observed = observer.observe()
    result = plan(program.cfg, observed, now, booking=False, session_mail=False)
    applied = executor.apply(result.actions, observed, now)
    return JobOutcome(applied > 0, result.next_due or WHEN_CHANGED)


def read_replies(program: ProgramRuntime, executor: Executor, now: datetime) -> JobOutcome:
    # Through the receive role's health: credentials that need a person (a Gmail login revoked) stop
    # this job only, are logged once and shown by `coachd status`, and are tried again when they change.
    health = program.health("receive")
    new = 0
    if health.available(now):
        try:
            new = health.call(now, read_inbox, program, executor, now)
        except CredentialsExpired:
            pass  # recorded by the role's health
    # Judged every run, not only with new replies: an admin may have assigned one, and evidence ages out.
    changed = refresh_states(program, executor, now)
    return JobOutcome(new > 0 or changed)


def send_due_mail(program: ProgramRuntime, executor: Executor, now: datetime) -> JobOutcome:
    drain(program, executor, now)
    # Sending changes nothing the other jobs plan from: the outbox keys were taken when queued.
    return JobOutcome(False, next_attempt(program) or WHEN_CHANGED)
