"""The execute step: apply planned actions through the providers, each exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from coachd.mail import contexts
from coachd.model.actions import Action, BookSeries, QueueMail
from coachd.model.observed import Booking, Observed
from coachd.model.types import BookedSeries
from coachd.mail.ical import series_calendar
from coachd.mail import Envelope
from coachd.mail.reply_token import reply_address, token_for
from coachd.model.mail_kinds import MailKind, expects_answer
from coachd.plan.planner import first_summary_key
from coachd.runtime.wiring import ProgramRuntime
from coachd.providers.base import CredentialsExpired, ProviderError, SeriesNotFound
from coachd.store import actions_repo, outbox_repo, series_repo
from coachd.store.db import Store
from coachd.store.outbox_repo import KeyTaken, QueuedRow

log = logging.getLogger("coachd.actions")


@dataclass(frozen=True)
class ActionRecord:
    """One applied action, as logged and as `coachd simulate` writes it to actions.jsonl."""

    at: datetime
    key: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "key": self.key, "action": self.kind, **self.detail}


ActionListener = Callable[[ActionRecord], None]


def _itip_method(mail: QueueMail, series: BookedSeries) -> str | None:
    """The iTIP method the email's calendar part carries, if any.

    A series ended early is re-sent as a REQUEST with its shortened rule, so the
    sessions already held stay in people's calendars; a series cancelled before
    it began, or one a person was taken off, is a CANCEL.
    """
    if mail.kind in (MailKind.INVITATION, MailKind.UPDATE):
        return "REQUEST"
    if mail.kind == MailKind.CANCELLATION:
        left = mail.subject_ref.endswith("/left")
        return "CANCEL" if series.cancelled or left else "REQUEST"
    return None


def _thread_key(mail: QueueMail, series_uid: str | None) -> str | None:
    """Mail of a series threads under the series; a summary sent again with late notes answers the first one."""
    first = first_summary_key(mail)
    if first is not None:
        return first
    return f"series:{series_uid}" if series_uid else None


# Emails rendered, then stored in one transaction: one commit for many, where each commit competes
# with the mail sender's for SQLite's single writer.
QUEUE_BATCH = 50


def store_mail(store: Store, rows: Sequence[QueuedRow]) -> None:
    """Insert queued emails and their action records in one transaction; raises KeyTaken if any
    key is there already (and stores none of them)."""
    with store.session() as db:
        outbox_repo.queue(db, rows)


class Executor:
    def __init__(self, program: ProgramRuntime, listener: ActionListener | None = None) -> None:
        self.program = program
        self.listener = listener
        # Bookings whose calendar write failed, and when: not tried again in the same pass.
        self.deferred: dict[str, datetime] = {}

    def apply(self, actions: Sequence[Action], observed: Observed, now: datetime) -> int:
        """Apply the actions not yet done; returns how many were applied.

        A booking the calendar refuses is logged with its key and skipped, with the mail about its
        series, until the next pass (not done, it is planned again); the other actions go on."""
        done = self._done_keys([a.key for a in actions])
        applied = 0
        pending: list[QueueMail] = []
        skipped: set[str] = set()  # series whose booking was skipped: their mail waits with them
        for action in actions:
            self.program.raise_if_stopping()
            if action.key in done or (isinstance(action, QueueMail) and action.series_key in skipped):
                continue
            if isinstance(action, BookSeries):
                applied += self._queue_all(pending, observed, now)
                pending = []
                booked_at = self._book(action, now)
                if booked_at is None:
                    skipped.add(action.series.spec.key)
                    continue
                # Mail planned in the same pass (the invitations) reads the series from here.
                observed = replace(observed, bookings={**observed.bookings,
                                                       action.series.spec.key: Booking(action.series, booked_at)})
                applied += 1
            else:
                pending.append(action)
                if len(pending) == QUEUE_BATCH:
                    applied += self._queue_all(pending, observed, now)
                    pending = []
        return applied + self._queue_all(pending, observed, now)

    def emit(self, record: ActionRecord) -> None:
        log.info("%s %s %s", record.kind, record.key,
                 " ".join(f"{k}={v}" for k, v in record.detail.items() if k not in ("key",)))
        if self.listener is not None:
            self.listener(record)

    def _done_keys(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        with self.program.store.session() as db:
            return actions_repo.done_keys(db, keys)

    def _book(self, action: BookSeries, now: datetime) -> datetime | None:
        """Write the series to the calendar and record it; None when the calendar did not take it."""
        calendar = self.program.health("calendar")
        if self.deferred.get(action.key) == now or not calendar.available(now):
            return None  # failed already in this pass, or the calendar needs a person / asked to wait
        series = action.series
        spec = series.spec
        program = self.program
        organizer = program.cfg.organizer
        with program.store.session() as db:
            existing = series_repo.get(db, spec.uid)
            booked_at = existing.booked_at if existing else now
        # The calendar write is idempotent (one object per UID), so a crash before the
        # record below only means the same write happens again on the next tick.
        try:
            if series.cancelled:
                try:
                    calendar.call(now, program.calendar.cancel_series, spec.uid)
                except SeriesNotFound:
                    pass  # deleted by hand already: the calendar agrees with us
            else:
                calendar.call(now, program.calendar.upsert_series, series, organizer.name, str(organizer.email),
                              dtstamp=booked_at)
        except ProviderError as error:
            self.deferred[action.key] = now
            if not isinstance(error, CredentialsExpired):  # that one the calendar's health reports
                log.warning("book %s (series %s) not written to the calendar: %s: %s; tried again next pass",
                            action.key, spec.key, type(error).__name__, error)
            return None
        self.deferred.pop(action.key, None)
        self._record(series, booked_at, now, action.key, "book", {"series": spec.key, "reason": action.reason})
        self.emit(ActionRecord(now, action.key, "book", {
            "series": spec.key, "uid": spec.uid, "kind": spec.kind.value, "sequence": series.sequence,
            "first": spec.start.isoformat(), "rrule": spec.rrule(), "reason": action.reason}))
        return booked_at

    def adopt(self, series: BookedSeries, now: datetime) -> None:
        """Record a series as someone changed it by hand in the organizer's calendar (no calendar write)."""
        spec = series.spec
        key = f"adopt:{spec.uid}:{series.sequence}"
        with self.program.store.session() as db:
            existing = series_repo.get(db, spec.uid)
            booked_at = existing.booked_at if existing else now
        self._record(series, booked_at, now, key, "adopt", {"series": spec.key})
        self.emit(ActionRecord(now, key, "adopt", {
            "series": spec.key, "uid": spec.uid, "sequence": series.sequence, "cancelled": series.cancelled,
            "pinned": sum(1 for o in series.overrides if o.pinned), "reason": "changed in the organizer's calendar"}))

    def _record(self, series: BookedSeries, booked_at: datetime, now: datetime, key: str, kind: str,
                detail: dict[str, Any]) -> None:
        """The series, its sessions and the action's key, in one transaction."""
        program = self.program
        with program.store.session() as db:
            series_repo.record(db, program.id, series, booked_at, now)
            actions_repo.record(db, key, program.id, kind, now, detail)

    def _queue_all(self, mails: Sequence[QueueMail], observed: Observed, now: datetime) -> int:
        """Render `mails` and store them in the outbox in one transaction (each email with its
        action record, so either both are there or neither); returns how many were new."""
        if not mails:
            return 0
        rows = [self._render(mail, observed, now) for mail in mails]
        try:
            store_mail(self.program.store, rows)
        except KeyTaken:
            # Another replica (or an earlier crash after commit) queued some: store one at a time.
            queued = [mail for mail, row in zip(mails, rows) if self._store_one(row)]
        else:
            queued = list(mails)
        for mail in queued:
            self.emit(ActionRecord(now, mail.key, "queue", {
                "kind": mail.kind, "to": mail.recipient.person_id, "session": mail.session_id,
                "due": mail.due.isoformat()}))
        return len(queued)

    def _store_one(self, row: QueuedRow) -> bool:
        try:
            store_mail(self.program.store, [row])
        except KeyTaken:
            return False
        return True

    def _render(self, mail: QueueMail, observed: Observed, now: datetime) -> QueuedRow:
        program = self.program
        cfg = program.cfg
        booking = observed.bookings.get(mail.series_key) if mail.series_key else None
        ics = method = None
        series_uid = booking.series.spec.uid if booking else None
        method = _itip_method(mail, booking.series) if booking else None
        if method is not None and booking is not None:
            ics = series_calendar(booking.series, organizer_name=cfg.organizer.name,
                                  organizer_email=str(cfg.organizer.email), method=method,
                                  dtstamp=booking.booked_at)
        token = None
        if expects_answer(mail.kind, mail.session_id):
            token = token_for(program.reply_secret(), program.id, mail.key)
        envelope = Envelope(
            key=mail.key, sender_name=cfg.organizer.name, sender_email=str(cfg.organizer.email), date=now,
            reply_to=reply_address(str(cfg.organizer.email), token) if token else None,
            series_uid=series_uid, session_id=mail.session_id,
            thread_key=_thread_key(mail, series_uid), ics=ics, ics_method=method,
        )
        context = contexts.build(cfg, observed, mail, now)
        composed = program.composer.compose_bytes(mail.kind, mail.recipient, context, envelope)
        row = {"key": mail.key, "program_id": program.id, "kind": mail.kind, "session_id": mail.session_id,
               "series_uid": series_uid, "recipient": mail.recipient.person_id, "to_addr": mail.recipient.email,
               "subject": composed.subject, "message": composed.raw, "message_id": composed.message_id,
               "reply_token": token, "status": "queued", "attempts": 0, "due_at": mail.due,
               "next_attempt_at": now, "created_at": now}
        action = {"key": mail.key, "program_id": program.id, "kind": "queue", "done_at": now,
                  "detail": {"kind": mail.kind, "to": mail.recipient.person_id}}
        return row, action
