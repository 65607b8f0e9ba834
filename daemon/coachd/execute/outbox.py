"""Drain the outbox: send what is due, retry transient failures with backoff, park permanent ones."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection

from coachd.execute.executor import ActionRecord, Executor
from coachd.runtime.wiring import ProgramRuntime
from coachd.providers.base import CredentialsExpired, PermanentSendError
from coachd.providers.retry import RetryPolicy
from coachd.store.models import Outbox, OutboxMessage

log = logging.getLogger("coachd.outbox")

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
# A claimed email is someone's to send for this long; if they crash, it is retried after it.
CLAIM_LEASE = timedelta(minutes=10)


# Built once: this runs for every email sent.
MARK_SENT = (update(Outbox).where(Outbox.id == bindparam("row_id"))
             .values(status="sent", sent_at=bindparam("sent_at"), attempts=bindparam("attempts")))


def claim(program: ProgramRuntime, row_id: int, now: datetime) -> bool:
    """Take one queued email for sending (see `claim_many`)."""
    return row_id in claim_many(program, [row_id], now)


def claim_many(program: ProgramRuntime, row_ids: list[int], now: datetime) -> set[int]:
    """Take queued emails for sending, atomically: of several drainers (replicas sharing a database,
    or a crash and its restart) exactly one gets each. The lease is the row's next attempt time, so
    a drainer that dies holding some only delays them by the lease."""
    if not row_ids:
        return set()
    with program.store.session() as db:
        claimed = db.execute(update(Outbox)
                             .where(Outbox.id.in_(row_ids), Outbox.status == "queued", Outbox.next_attempt_at <= now)
                             .values(next_attempt_at=now + CLAIM_LEASE)
                             .returning(Outbox.id))
        return set(claimed.scalars())


# Retries span ticks and live in the store (next_attempt_at), so the outbox does not run the policy's
# loop; it takes the policy's waits, at its own slower pace.
SEND_RETRIES = RetryPolicy(first=FIRST_RETRY, longest=LONGEST_RETRY)


def backoff(attempts: int, error: BaseException | None = None) -> timedelta:
    """1 min, 2, 4, ... capped at 6 h, each plus a little jitter, so a mail server that is down for
    a while is not hammered; at least the retry-after a Throttled error carries."""
    return SEND_RETRIES.delay(attempts, error)


def drain(program: ProgramRuntime, executor: Executor, now: datetime, batch: int = 50,
          stopping: Callable[[], bool] = lambda: False) -> int:
    """Send every queued email whose next attempt is due, over one connection where the sender keeps
    one (it is closed at the end); returns how many were sent. `stopping` is asked between emails:
    once it says yes, the emails claimed but not sent are handed back at once."""
    try:
        # One database connection for the marks: each is still its own transaction, committed
        # before the next email goes, but not a connection checked out of the pool per email.
        with program.store.engine.connect() as marks:
            return _drain(program, executor, now, batch, stopping, marks)
    finally:
        program.sender.close()


def release(program: ProgramRuntime, row_ids: list[int], now: datetime) -> None:
    """Hand back claimed emails that were not sent, so they need not wait out the lease."""
    if row_ids:
        with program.store.session() as db:
            db.execute(update(Outbox).where(Outbox.id.in_(row_ids), Outbox.status == "queued")
                       .values(next_attempt_at=now))


def _drain(program: ProgramRuntime, executor: Executor, now: datetime, batch: int, stopping: Callable[[], bool],
           marks: Connection) -> int:
    sent = 0
    health = program.health("send")
    if not health.available(now):
        _hold(program, now, health.next_check(now))
        return sent
    # Every email is from the organizer to the one person its row names: the envelope is known
    # without reading the message's headers again.
    organizer = str(program.cfg.organizer.email)
    while True:
        with program.store.session() as db:
            rows = db.execute(
                select(Outbox.id, Outbox.key, Outbox.kind, Outbox.recipient, Outbox.to_addr, Outbox.attempts)
                .where(Outbox.program_id == program.id, Outbox.status == "queued", Outbox.next_attempt_at <= now)
                .order_by(Outbox.due_at, Outbox.id).limit(batch)
            ).all()
        if not rows:
            return sent
        # Claimed a batch at a time: one write for many, and a crash holds back at most a batch.
        mine = claim_many(program, [row[0] for row in rows], now)
        with program.store.session() as db:
            messages = dict(db.execute(select(OutboxMessage.key, OutboxMessage.message).where(
                OutboxMessage.key.in_([row[1] for row in rows if row[0] in mine]))).all())
        for index, (row_id, key, kind, recipient, to_addr, attempts) in enumerate(rows):
            if row_id not in mine:
                continue  # another drainer has it
            raw = messages[key]
            if stopping():
                release(program, [row[0] for row in rows[index:] if row[0] in mine], now)
                return sent
            try:
                program.sender.send_raw(raw, key, (organizer, [to_addr]))
            except CredentialsExpired as error:
                # Not the email's fault: no attempt counted. Every email waits for the next check
                # (see runtime/provider_health.py), so the sender is not woken for them meanwhile.
                health.credentials_expired(now, error)
                release(program, [row[0] for row in rows[index:] if row[0] in mine], now)
                _hold(program, now, health.next_check(now))
                return sent
            except PermanentSendError as error:
                _record_failure(program, row_id, attempts + 1, now, str(error), permanent=True)
                executor.emit(ActionRecord(now, key, "send-failed", {"kind": kind, "to": recipient,
                                                                     "error": str(error)}))
                continue
            except Exception as error:  # noqa: BLE001 - any other failure is worth another try
                _record_failure(program, row_id, attempts + 1, now, f"{type(error).__name__}: {error}",
                                permanent=attempts + 1 >= MAX_ATTEMPTS, cause=error)
                log.warning("send %s failed (attempt %d): %s", key, attempts + 1, error)
                continue
            # Recorded at once, each on its own: the window for a duplicate after a crash is one email.
            marks.execute(MARK_SENT, {"row_id": row_id, "sent_at": now, "attempts": attempts + 1})
            marks.commit()
            executor.emit(ActionRecord(now, key, "send", {"kind": kind, "to": recipient}))
            sent += 1
        if len(rows) < batch:
            return sent


def _hold(program: ProgramRuntime, now: datetime, until: datetime) -> None:
    """Put off every email due by `now` until `until`."""
    with program.store.session() as db:
        db.execute(update(Outbox).where(Outbox.program_id == program.id, Outbox.status == "queued",
                                        Outbox.next_attempt_at <= now).values(next_attempt_at=until))


def _record_failure(program: ProgramRuntime, row_id: int, attempts: int, now: datetime, error: str,
                    permanent: bool, cause: BaseException | None = None) -> None:
    with program.store.session() as db:
        row = db.get(Outbox, row_id)
        assert row is not None
        row.attempts, row.last_error = attempts, error
        if permanent:
            row.status = "failed"
        else:
            row.next_attempt_at = now + backoff(attempts, cause)


def next_attempt(program: ProgramRuntime) -> datetime | None:
    with program.store.session() as db:
        return db.scalar(select(func.min(Outbox.next_attempt_at))
                         .where(Outbox.program_id == program.id, Outbox.status == "queued"))
