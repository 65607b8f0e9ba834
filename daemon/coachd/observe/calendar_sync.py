"""Calendar sync: people's busy times and the organizer's calendar (hand edits, declines) into the store."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import datetime, time, timedelta

from coachd.plan.calendar_truth import CalendarView, Decline, adopt, series_decliners
from coachd.plan.calendar_truth import declines as calendar_declines
from coachd.model.serial import booked_from_row
from coachd.model.types import UTC, Interval
from coachd.execute.executor import ActionRecord, Executor
from coachd.observe.observer import (
    BUSY_ERRORS_META,
    BUSY_FINGERPRINT,
    BUSY_RECOVERED_META,
    DECLINES_META,
    declines_from_json,
    declines_to_json,
)
from coachd.plan.repair import RECHECK_AFTER_RECOVERY
from coachd.runtime.provider_health import RoleHealth
from coachd.runtime.wiring import ProgramRuntime
from coachd.providers.base import CalendarEntry, CredentialsExpired, ProviderError, SyncCursorExpired, SyncResult
from coachd.providers.busy import ask_within_limits
from coachd.store import busy_repo, series_repo

# The sync job's messages keep the logger name they had when this was part of the jobs module.
log = logging.getLogger("coachd.jobs")
# What is kept of a busy source's error in the store and shown by `coachd status`: enough to act on.
ERROR_CHARS = 300


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

    def run(self, now: datetime) -> bool:
        """One pass; whether anything others plan from changed."""
        program = self.program
        window = busy_window(program)
        changed = False
        busy = program.health("busy")
        if not program.busy_people:
            changed |= self._note_busy_health(now, {}, set())  # forget whoever is no longer asked
        elif busy.available(now):
            changed |= self._refresh_busy(now, window, busy)
        else:
            changed |= self._busy_unavailable(now, busy)
        changed |= self._sync_calendar(now)
        if changed:
            self.executor.emit(ActionRecord(now, f"sync:{program.id}/busy", "sync", {"busy": "changed"}))
        return changed

    def _refresh_busy(self, now: datetime, window: Interval, busy: RoleHealth) -> bool:
        """Ask the busy provider about its people, within its limits; store what changed."""
        program = self.program
        try:
            answer = ask_within_limits(program.busy, program.busy_people, window,
                                       lambda *request: busy.call(now, *request))
        except CredentialsExpired:
            # Recorded by the role's health, which keeps the others from asking; who was never read stays unknown.
            return self._busy_unavailable(now, busy)
        changed = False
        failures: dict[str, str] = {}
        for person in program.busy_people:
            program.raise_if_stopping()
            if person.id in answer.failures:
                # Keep the last known busy times: a feed that is briefly down must not free everyone.
                failures[person.id] = str(answer.failures[person.id])[:ERROR_CHARS]
                continue
            changed |= self._store_busy(person.id, answer.get(person.id, []), str(program.cfg.person(person.id).busy))
        read = {p.id for p in program.busy_people if p.id not in failures}
        return self._note_busy_health(now, failures, read) or changed

    def _busy_unavailable(self, now: datetime, busy: RoleHealth) -> bool:
        """The busy provider cannot be asked now (credentials, throttled): whoever was never read stays unknown."""
        state = busy.state or {}
        reason = (f"the busy provider cannot be asked ({state.get('state', 'unavailable')}: "
                  f"{state.get('error', '')})")[:ERROR_CHARS]
        never = {p.id: reason for p in self.program.busy_people if self._remembered(f"{BUSY_FINGERPRINT}{p.id}") is None}
        return self._note_busy_health(now, never, set())

    def _note_busy_health(self, now: datetime, failures: dict[str, str], read: set[str]) -> bool:
        """Remember whose busy source fails (and since when) and whose was read again after failing.

        Logged once per change, not every pass. Whether the set of people whose busy times are unknown
        changed (then the planner has something new to do)."""
        asked = {p.id for p in self.program.busy_people}
        before = {pid: e for pid, e in dict(self._remembered(BUSY_ERRORS_META) or {}).items()  # type: ignore[arg-type]
                  if pid in asked}
        errors = dict(before)
        recovered_before = dict(self._remembered(BUSY_RECOVERED_META) or {})  # type: ignore[arg-type]
        recovered = {pid: at for pid, at in recovered_before.items()
                     if pid in asked and now - datetime.fromisoformat(at) < RECHECK_AFTER_RECOVERY}
        for pid, error in sorted(failures.items()):
            previous = errors.get(pid)
            if previous is not None and previous["error"] == error:
                continue
            errors[pid] = {"error": error, "since": previous["since"] if previous else now.isoformat()}
            if self._remembered(f"{BUSY_FINGERPRINT}{pid}") is None:
                log.warning("busy times of %s never read (%s): none of their sessions is booked until they are",
                            pid, error)
            else:
                log.warning("busy times of %s not refreshed (%s): planning on the last ones read", pid, error)
        for pid in sorted(read & errors.keys()):
            log.info("busy times of %s read again after failing since %s: re-checking their sessions over "
                     "the whole program", pid, errors[pid]["since"])
            del errors[pid]
            recovered[pid] = now.isoformat()
        if errors != (self._remembered(BUSY_ERRORS_META) or {}):
            self._remember(BUSY_ERRORS_META, errors)
        if recovered != recovered_before:
            self._remember(BUSY_RECOVERED_META, recovered)
        return set(errors) != set(before) or recovered.keys() - recovered_before.keys() != set()

    def _sync_calendar(self, now: datetime) -> bool:
        """Follow the organizer's calendar from the remembered cursor. A calendar that fails is
        logged and asked again next pass; an entry that cannot be taken in is logged with its UID
        and the cursor is kept, so that the next pass reads it again (following is idempotent)."""
        program = self.program
        calendar = program.health("calendar")
        if not calendar.available(now):
            return False
        cursor = self._remembered("calendar_cursor")
        try:
            try:
                result = calendar.call(now, program.calendar.sync, cursor)
            except SyncCursorExpired:
                result = self._reconciled(calendar.call(now, program.calendar.sync, None))
        except CredentialsExpired:
            return False  # recorded by the calendar's health
        except ProviderError as error:
            log.warning("calendar sync skipped this pass: %s: %s", type(error).__name__, error)
            return False
        changed, complete = self._follow(result, now)
        if complete and result.cursor != cursor:
            self._remember("calendar_cursor", result.cursor)
        return changed

    def _reconciled(self, full: SyncResult) -> SyncResult:
        """A full sync after the cursor expired, with what it no longer holds counted as deleted.

        A series deleted during the gap is simply absent from a full sync (Google forgets deleted
        events after a while, and with them the sync tokens that would have said so): every series
        of this program the store holds and the calendar no longer mentions is gone, or it would
        stay booked here forever. A calendar that suddenly holds none of them at all is not taken
        at its word (a wrong calendar id, an emptied account): that is logged, nothing is cancelled."""
        program = self.program
        # An entry the provider saw but could not read now (half-written, broken) is not a deletion.
        mentioned = {entry.uid for entry in full.entries} | set(full.deleted_uids) | {where for where, _ in full.errors}
        with program.store.session() as db:
            uids = [uid for uid, _sequence, _updated in series_repo.versions(db, program.id)]
            live = sorted(row.uid for row in series_repo.by_uids(db, uids, program.id) if not row.cancelled)
        missing = [uid for uid in live if uid not in mentioned]
        if not missing:
            return full
        if len(missing) == len(live):
            log.warning("calendar full sync holds none of the %d booked series of %s: not taken as deleted; "
                        "check the calendar the config names", len(live), program.id)
            return full
        log.info("calendar full sync: %d series no longer in the calendar, taken as deleted: %s",
                 len(missing), ", ".join(missing))
        return replace(full, deleted_uids=sorted(set(full.deleted_uids) | set(missing)))

    def _follow(self, result: SyncResult, now: datetime) -> tuple[bool, bool]:
        """Take in what changed in the organizer's calendar: hand edits become the truth, declines are noted.

        Entries that are our own writes coming back agree with the store and change nothing.
        Returns (changed, every entry taken in).
        """
        program = self.program
        cfg = program.cfg
        people_by_email = dict(cfg.person_id_by_email)
        declines = declines_from_json(self._remembered(DECLINES_META) or {})  # type: ignore[arg-type]
        before = dict(declines)
        changed = False
        complete = True
        gone = set(result.deleted_uids)
        followed = [(entry.uid, _view(entry)) for entry in result.entries if entry.key is not None]
        for uid, view in [*followed, *((uid, None) for uid in gone)]:
            self.program.raise_if_stopping()
            try:
                changed |= self._follow_entry(uid, view, people_by_email, declines, now)
            except Exception:  # noqa: BLE001 - one series that cannot be taken in never stops the others
                log.exception("calendar entry %s not taken in; read again next pass", uid)
                complete = False
        if declines != before:
            self._remember(DECLINES_META, declines_to_json(declines))
            changed = True
        return changed, complete

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
        name = f"{BUSY_FINGERPRINT}{person_id}"
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
