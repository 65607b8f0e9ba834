"""The outbox: rendered emails with their keys, claimed, sent, retried or given up on; and the
requests among them that replies are matched to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db import Store
from .models import ActionLog, Outbox, OutboxMessage

# One queued email: its outbox row (with its message bytes under "message") and its action-log
# row, as column values.
QueuedRow = tuple[dict[str, Any], dict[str, Any]]

# What the drainer reads of a due email; the bytes are read apart, for the emails it claimed.
# `sending_at` set on a due email means a crash left its outcome unknown.
DUE_COLUMNS = (Outbox.id, Outbox.key, Outbox.kind, Outbox.recipient, Outbox.to_addr, Outbox.attempts,
               Outbox.message_id, Outbox.sending_at)
# What reply matching reads of a request.
REQUEST_COLUMNS = (Outbox.key, Outbox.kind, Outbox.session_id, Outbox.recipient, Outbox.to_addr, Outbox.reply_token,
                   Outbox.message_id)

# Built once: these run for every email sent.
MARK_SENT = (update(Outbox).where(Outbox.id == bindparam("row_id"))
             .values(status="sent", sent_at=bindparam("sent_at"), attempts=bindparam("attempts"),
                     claimed_by=None, sending_at=None))
MARK_SENDING = (update(Outbox).where(Outbox.id == bindparam("row_id"))
                .values(sending_at=bindparam("sending_at"),
                        resent_after_crash=Outbox.resent_after_crash + bindparam("resent")))


class KeyTaken(Exception):
    """An email's key is in the outbox (or the action log) already: queued before, by this process or another."""


def queue(db: Session, rows: Sequence[QueuedRow]) -> None:
    """Insert queued emails, their bytes and their action records (Core executemany: many times
    cheaper than ORM objects); raises KeyTaken if any key is there already, and the caller's
    transaction must then be rolled back."""
    connection = db.connection()
    try:
        connection.execute(insert(Outbox), [{k: v for k, v in outbox.items() if k != "message"}
                                            for outbox, _ in rows])
        connection.execute(insert(OutboxMessage), [{"key": outbox["key"], "message": outbox["message"]}
                                                   for outbox, _ in rows])
        connection.execute(insert(ActionLog), [action for _, action in rows])
    except IntegrityError as error:
        raise KeyTaken(str(error.orig)) from error


def keys_after(db: Session, program_id: str, after_id: int) -> list[tuple[int, str]]:
    """(id, key) of the emails queued after the one with id `after_id` (ids only grow, rows are never deleted)."""
    return [(row_id, key) for row_id, key in db.execute(
        select(Outbox.id, Outbox.key).where(Outbox.program_id == program_id, Outbox.id > after_id)).all()]


def claim(db: Session, row_ids: Sequence[int], now: datetime, lease: timedelta, holder: str) -> set[int]:
    """Take the queued, due emails among `row_ids` for `lease` in the name of `holder`, atomically:
    of several drainers exactly one gets each. The lease is the row's next attempt time."""
    claimed = db.execute(update(Outbox)
                         .where(Outbox.id.in_(row_ids), Outbox.status == "queued", Outbox.next_attempt_at <= now)
                         .values(next_attempt_at=now + lease, claimed_by=holder)
                         .returning(Outbox.id))
    return set(claimed.scalars())


def release(db: Session, row_ids: Sequence[int], now: datetime) -> None:
    """Make claimed emails that were not sent due again at `now`: none of them is in flight (the
    drainer knows it did not send them), so their in-flight marks go too."""
    db.execute(update(Outbox).where(Outbox.id.in_(row_ids), Outbox.status == "queued")
               .values(next_attempt_at=now, claimed_by=None, sending_at=None))


def claimants(db: Session, program_id: str) -> list[str]:
    """Every process named as holding a claim on a queued email of the program."""
    return list(db.scalars(select(Outbox.claimed_by).distinct()
                           .where(Outbox.program_id == program_id, Outbox.status == "queued",
                                  Outbox.claimed_by.is_not(None))))


def hand_back(db: Session, program_id: str, holders: Sequence[str], now: datetime) -> int:
    """Make the queued emails claimed by `holders` (processes that are gone) due again at `now`.

    Their in-flight marks stay: the one email such a process was sending may have gone out, and
    the next drainer must treat its outcome as unknown. Returns how many were handed back."""
    if not holders:
        return 0
    result = db.execute(update(Outbox).where(Outbox.program_id == program_id, Outbox.status == "queued",
                                             Outbox.claimed_by.in_(holders))
                        .values(next_attempt_at=now, claimed_by=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def resent_after_crash(db: Session, program_id: str) -> int:
    """How many emails were sent again after a crash that left their first send's outcome unknown."""
    return db.scalar(select(func.count()).select_from(Outbox)
                     .where(Outbox.program_id == program_id, Outbox.resent_after_crash > 0)) or 0


def due(db: Session, program_id: str, now: datetime, limit: int) -> list[Row[Any]]:
    """(id, key, kind, recipient, to_addr, attempts) of the queued emails due at `now`, by due time."""
    return list(db.execute(
        select(*DUE_COLUMNS)
        .where(Outbox.program_id == program_id, Outbox.status == "queued", Outbox.next_attempt_at <= now)
        .order_by(Outbox.due_at, Outbox.id).limit(limit)
    ).all())


def messages(db: Session, keys: Sequence[str]) -> dict[str, bytes]:
    """The bytes of the emails with these keys."""
    return dict(db.execute(select(OutboxMessage.key, OutboxMessage.message)  # type: ignore[arg-type]
                           .where(OutboxMessage.key.in_(keys))).all())


class SendMarks:
    """The drainer's marks around each send, each committed at once in its own transaction, all over
    one connection rather than one checked out of the pool per email."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def sending(self, row_id: int, at: datetime, *, resend: bool = False) -> None:
        """The email is about to be handed to the sender (and, with `resend`, again after a crash
        left its first send's outcome unknown): committed before the send, so that after a crash
        this one email, and no other of the batch, is known to be in doubt."""
        self._connection.execute(MARK_SENDING, {"row_id": row_id, "sending_at": at, "resent": int(resend)})
        self._connection.commit()

    def sent(self, row_id: int, sent_at: datetime, attempts: int) -> None:
        """The email was sent (the window for a duplicate after a crash is this one email)."""
        self._connection.execute(MARK_SENT, {"row_id": row_id, "sent_at": sent_at, "attempts": attempts})
        self._connection.commit()


@contextmanager
def send_marks(store: Store) -> Iterator[SendMarks]:
    """Marks for one drain (see SendMarks)."""
    with store.engine.connect() as connection:
        yield SendMarks(connection)


def record_failure(db: Session, row_id: int, attempts: int, error: str, retry_at: datetime | None) -> None:
    """A failed attempt: tried again at `retry_at`, or given up on (status failed) when that is None."""
    row = db.get(Outbox, row_id)
    assert row is not None
    # The send answered (with an error): its outcome is known, and the claim is over.
    row.attempts, row.last_error, row.sending_at, row.claimed_by = attempts, error, None, None
    if retry_at is None:
        row.status = "failed"
    else:
        row.next_attempt_at = retry_at


def put_off_due(db: Session, program_id: str, now: datetime, until: datetime) -> None:
    """Every queued email due by `now` waits until `until` (its attempts unchanged)."""
    db.execute(update(Outbox).where(Outbox.program_id == program_id, Outbox.status == "queued",
                                    Outbox.next_attempt_at <= now).values(next_attempt_at=until))


def next_attempt(db: Session, program_id: str) -> datetime | None:
    """When the earliest queued email is due to be tried."""
    return db.scalar(select(func.min(Outbox.next_attempt_at))
                     .where(Outbox.program_id == program_id, Outbox.status == "queued"))


def requests_by_token(db: Session, program_id: str, tokens: Sequence[str]) -> list[Row[Any]]:
    """(key, kind, session_id, recipient, to_addr, reply_token, message_id) of the emails sent with these reply tokens."""
    return list(db.execute(select(*REQUEST_COLUMNS).where(Outbox.program_id == program_id,
                                                          Outbox.reply_token.in_(tokens))).all())


def requests_by_message_id(db: Session, program_id: str, message_ids: Sequence[str]) -> list[Row[Any]]:
    """The same columns, of the emails with these Message-IDs."""
    return list(db.execute(select(*REQUEST_COLUMNS).where(Outbox.program_id == program_id,
                                                          Outbox.message_id.in_(message_ids))).all())


def latest_request(db: Session, program_id: str, person_id: str, kinds: Sequence[str],
                   session_id: str | None = None) -> Outbox | None:
    """The newest email of `kinds` to `person_id` (about `session_id`, if given)."""
    query = select(Outbox).where(Outbox.program_id == program_id, Outbox.recipient == person_id,
                                 Outbox.kind.in_(kinds))
    if session_id is not None:
        query = query.where(Outbox.session_id == session_id)
    return db.scalars(query.order_by(Outbox.created_at.desc(), Outbox.id.desc())).first()


def status_counts(db: Session, program_id: str) -> dict[str, int]:
    """How many emails are queued, sent and failed."""
    return dict(db.execute(select(Outbox.status, func.count()).where(Outbox.program_id == program_id)  # type: ignore[arg-type]
                           .group_by(Outbox.status)).all())


def kind_status_counts(db: Session, program_id: str) -> Counter[tuple[str, str]]:
    """How many emails of each (kind, status)."""
    return Counter(tuple(row) for row in db.execute(  # type: ignore[misc]
        select(Outbox.kind, Outbox.status).where(Outbox.program_id == program_id)).all())


def failed(db: Session, program_id: str, limit: int) -> Sequence[Outbox]:
    """The emails given up on, the latest first."""
    return db.scalars(select(Outbox).where(Outbox.program_id == program_id, Outbox.status == "failed")
                      .order_by(Outbox.id.desc()).limit(limit)).all()


def retrying(db: Session, program_id: str, limit: int) -> Sequence[Outbox]:
    """Queued emails that failed at least once."""
    return db.scalars(select(Outbox).where(Outbox.program_id == program_id, Outbox.status == "queued",
                                           Outbox.attempts > 0).limit(limit)).all()
