"""The daemon's jobs: sync calendars, plan and book, send mail, read the inbox, program mail."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from coachd.plan.calendar_truth import CalendarView, Decline, adopt, series_decliners
from coachd.plan.calendar_truth import declines as calendar_declines
from coachd.model.actions import BookSeries
from coachd.plan.planner import Plan, plan
from coachd.model.serial import booked_from_row
from coachd.model.types import UTC, Interval
from coachd.execute.executor import ActionRecord, Executor
from coachd.observe.inbox import read_inbox
from coachd.observe.observer import DECLINES_META, Observer, declines_from_json, declines_to_json
from coachd.execute.outbox import drain, next_attempt
from coachd.runtime.wiring import ProgramRuntime
from coachd.observe.coachee_states import refresh_states
from coachd.providers.base import BusySourceError, CalendarEntry, SyncCursorExpired, SyncResult
from coachd.store import busy_repo, series_repo

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
    sync = CalendarSync(program, executor)
    observer = Observer(program.store, program.id)
    reported: set[str] = set()
    return [
        Job("sync", intervals.sync, sync.run),
        Job("inbox", intervals.inbox, lambda now: read_replies(program, executor, now)),
        Job("plan", intervals.plan, lambda now: plan_and_book(program, executor, now, observer, reported)),
        Job("digest", intervals.digest, lambda now: program_mail(program, executor, now, observer)),
        Job("send", intervals.send, send or (lambda now: send_due_mail(program, executor, now))),
    ]


def _view(entry: CalendarEntry) -> CalendarView:
    return CalendarView(entry.cancelled, entry.exdates, entry.overrides, entry.attendees, entry.occurrence_attendees)


def busy_window(program: ProgramRuntime) -> Interval:
    """The whole program, a week either side: placements look as far as the wrap-up."""
    p = program.cfg.program
    start = datetime.combine(p.starts - timedelta(weeks=1), time(0), p.zone).astimezone(UTC)
    end = datetime.combine(p.ends + timedelta(weeks=1), time(0), p.zone).astimezone(UTC)
    return Interval(start, end)


class CalendarSync:
    """Refresh people's busy times and follow the organizer's calendar.

    Fingerprints of what was last stored are kept in the store (so a restart
    does not rewrite everything) and mirrored in memory (so a quiet run costs
    no queries).
    """

    def __init__(self, program: ProgramRuntime, executor: Executor) -> None:
        self.program = program
        self.executor = executor
        self.fingerprints: dict[str, object] = {}
        self.last_busy: dict[str, list[Interval]] = {}

    def run(self, now: datetime) -> JobOutcome:
        program = self.program
        window = busy_window(program)
        changed = False
        for person in program.cfg.people:
            if not person.busy:
                continue
            try:
                spans = program.busy.busy(person.id, window)
            except BusySourceError as error:
                # Keep the last known busy times: a feed that is briefly down must not free everyone.
                log.warning("busy times of %s not refreshed: %s", person.id, error)
                continue
            changed |= self._store_busy(person.id, spans, str(person.busy))
        cursor = self._remembered("calendar_cursor")
        try:
            result = program.calendar.sync(cursor)  # type: ignore[arg-type]
        except SyncCursorExpired:
            result = program.calendar.sync(None)
        changed |= self._follow(result, now)
        if result.cursor != cursor:
            self._remember("calendar_cursor", result.cursor)
        if changed:
            self.executor.emit(ActionRecord(now, f"sync:{program.id}/busy", "sync", {"busy": "changed"}))
        return JobOutcome(changed)

    def _follow(self, result: SyncResult, now: datetime) -> bool:
        """Take in what changed in the organizer's calendar: hand edits become the truth, declines are noted.

        Entries that are our own writes coming back agree with the store and change nothing.
        """
        program = self.program
        cfg = program.cfg
        people_by_email = dict(cfg.person_id_by_email)
        declines = declines_from_json(self._remembered(DECLINES_META) or {})  # type: ignore[arg-type]
        before = dict(declines)
        changed = False
        gone = set(result.deleted_uids)
        for entry in result.entries:
            if entry.key is not None:
                changed |= self._follow_entry(entry.uid, _view(entry), people_by_email, declines, now)
        for uid in gone:
            changed |= self._follow_entry(uid, None, people_by_email, declines, now)
        if declines != before:
            self._remember(DECLINES_META, declines_to_json(declines))
            changed = True
        return changed

    def _follow_entry(self, uid: str, view: CalendarView | None, people_by_email: dict[str, str],
                      declines: dict[str, Decline], now: datetime) -> bool:
        program = self.program
        with program.store.session() as db:
            row = series_repo.get(db, uid)
            if row is None or row.program_id != program.id:
                return False
            booked = booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled)
        view = view or CalendarView(True, (), (), {}, {})  # deleted by hand: as good as cancelled
        for sid in [sid for sid in declines if sid == uid or sid.startswith(f"{uid}/")]:
            del declines[sid]
        declines.update(calendar_declines(booked, view, people_by_email, now))
        # A decline of the whole series is kept under its UID: reported to the admin, not acted on.
        whole = series_decliners(view, people_by_email)
        if whole and not view.cancelled:
            declines[uid] = Decline(booked.spec.start, whole)
        adopted = adopt(booked, view)
        if adopted is None:
            return False
        self.executor.adopt(adopted, now)
        return True

    def _store_busy(self, person_id: str, spans: list[Interval], source: str) -> bool:
        if self.last_busy.get(person_id) == spans:
            return False
        program = self.program
        fingerprint = hashlib.sha256(json.dumps([(s.start.isoformat(), s.end.isoformat()) for s in spans])
                                     .encode()).hexdigest()
        name = f"busy:{person_id}"
        if self._remembered(name) != fingerprint:
            with program.store.session() as db:
                busy_repo.replace(db, program.id, person_id, spans, source)
            self._remember(name, fingerprint)
            changed = True
        else:
            changed = False
        self.last_busy[person_id] = spans
        return changed

    def _remembered(self, name: str) -> object:
        if name not in self.fingerprints:
            self.fingerprints[name] = self.program.get_meta(name)
        return self.fingerprints[name]

    def _remember(self, name: str, value: object) -> None:
        self.program.set_meta(name, value)
        self.fingerprints[name] = value


def plan_and_book(program: ProgramRuntime, executor: Executor, now: datetime, observer: Observer,
                  reported: set[str] | None = None) -> JobOutcome:
    observed = observer.observe()
    result = plan(program.cfg, observed, now, program_mail=False)
    _report(result, reported if reported is not None else set())
    applied = executor.apply(result.actions, observed, now)
    if applied and any(isinstance(a, BookSeries) for a in result.actions):
        # Bookings change what mail is due: plan again on what was just recorded.
        observed = observer.observe()
        again = plan(program.cfg, observed, now, program_mail=False)
        applied += executor.apply(again.actions, observed, now)
        result = again
    # Something that could not be placed is tried again at the plan interval.
    next_due = None if result.problems else (result.next_due or WHEN_CHANGED)
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
    new = read_inbox(program, executor, now)
    # Judged every run, not only with new replies: an admin may have assigned one, and evidence ages out.
    changed = refresh_states(program, executor, now)
    return JobOutcome(new > 0 or changed)


def send_due_mail(program: ProgramRuntime, executor: Executor, now: datetime) -> JobOutcome:
    drain(program, executor, now)
    # Sending changes nothing the other jobs plan from: the outbox keys were taken when queued.
    return JobOutcome(False, next_attempt(program) or WHEN_CHANGED)
