"""Drain the outbox: send what is due, retry transient failures with backoff, park permanent ones."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from coachd.execute import claimants
from coachd.execute.executor import ActionRecord, Executor
from coachd.providers.base import CredentialsExpired, PermanentSendError
from coachd.providers.retry import RetryPolicy
from coachd.runtime.wiring import ProgramRuntime
from coachd.store import outbox_repo

log = logging.getLogger("coachd.outbox")

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
# A claimed email is someone's to send for this long. Claims name their holder: those of a process
# on this host that is gone are handed back at the next drain (`hand_back_orphans`), so the lease
# only matters for a holder that cannot be checked from here (another host sharing PostgreSQL).
CLAIM_LEASE = timedelta(minutes=10)


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
        return outbox_repo.claim(db, row_ids, now, CLAIM_LEASE, claimants.this_process())


def hand_back_orphans(program: ProgramRuntime, now: datetime) -> int:
    """Make the emails claimed by a process that is gone (a sender killed, a daemon crashed) due
    again at once, instead of after the lease; returns how many. The one email such a process was
    sending keeps its in-flight mark: `_drain` treats its outcome as unknown."""
    with program.store.session() as db:
        gone = [holder for holder in outbox_repo.claimants(db, program.id) if claimants.is_gone(holder)]
        handed = outbox_repo.hand_back(db, program.id, gone, now)
    if handed:
        log.warning("handed back %d emails claimed by %s, which ended without sending them", handed,
                    ", ".join(gone))
    return handed


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
    once it says yes, the emails claimed but not sent are handed back at once. Claims left by a
    process that is gone are handed back first."""
    try:
        hand_back_orphans(program, now)
        # One database connection for the marks: each is still its own transaction, committed
        # before the email goes (in flight) and after (sent), but not a connection from the pool each time.
        with outbox_repo.send_marks(program.store) as marks:
            return _drain(program, executor, now, batch, stopping, marks)
    finally:
        program.sender.close()


def release(program: ProgramRuntime, row_ids: list[int], now: datetime) -> None:
    """Hand back claimed emails that were not sent, so they need not wait out the lease."""
    if row_ids:
        with program.store.session() as db:
            outbox_repo.release(db, row_ids, now)


def _drain(program: ProgramRuntime, executor: Executor, now: datetime, batch: int, stopping: Callable[[], bool],
           marks: outbox_repo.SendMarks) -> int:
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
            rows = outbox_repo.due(db, program.id, now, batch)
        if not rows:
            return sent
        # Claimed a batch at a time: one write for many, and a crash holds back at most a batch.
        mine = claim_many(program, [row[0] for row in rows], now)
        with program.store.session() as db:
            messages = outbox_repo.messages(db, [row[1] for row in rows if row[0] in mine])
        for index, (row_id, key, kind, recipient, to_addr, attempts, message_id, in_doubt) in enumerate(rows):
            if row_id not in mine:
                continue  # another drainer has it
            raw = messages[key]
            if stopping():
                release(program, [row[0] for row in rows[index:] if row[0] in mine], now)
                return sent
            resend = False
            if in_doubt is not None:
                # A crash came while this email was being sent: it may have gone out.
                arrived = _was_sent(program, message_id, key)
                if arrived:
                    marks.sent(row_id, now, attempts + 1)
                    executor.emit(ActionRecord(now, key, "send", {"kind": kind, "to": recipient,
                                                                  "found_sent_after_crash": True}))
                    sent += 1
                    continue
                resend = arrived is None
                if resend:
                    log.warning("send %s: a crash came while it was being sent (%s) and the provider cannot "
                                "say whether it arrived; sending it again (it may arrive twice)", key,
                                in_doubt.isoformat())
            marks.sending(row_id, now, resend=resend)
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
            marks.sent(row_id, now, attempts + 1)
            executor.emit(ActionRecord(now, key, "send", {"kind": kind, "to": recipient}))
            sent += 1
        if len(rows) < batch:
            return sent


def _was_sent(program: ProgramRuntime, message_id: str, key: str) -> bool | None:
    """The sender's answer to "did this arrive?" (providers/base.py MailSender.was_sent); None when it
    cannot tell, including when asking fails: then the email is sent again and counted."""
    try:
        return program.sender.was_sent(message_id, key)
    except Exception as error:  # noqa: BLE001 - a lookup that fails is a lookup that cannot tell
        log.warning("send %s: could not ask whether it arrived before the crash: %s", key, error)
        return None


def _hold(program: ProgramRuntime, now: datetime, until: datetime) -> None:
    """Put off every email due by `now` until `until`."""
    with program.store.session() as db:
        outbox_repo.put_off_due(db, program.id, now, until)


def _record_failure(program: ProgramRuntime, row_id: int, attempts: int, now: datetime, error: str,
                    permanent: bool, cause: BaseException | None = None) -> None:
    with program.store.session() as db:
        outbox_repo.record_failure(db, row_id, attempts, error,
                                   None if permanent else now + backoff(attempts, cause))


def next_attempt(program: ProgramRuntime) -> datetime | None:
    with program.store.session() as db:
        return outbox_repo.next_attempt(db, program.id)
