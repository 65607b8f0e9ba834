"""SQLAlchemy 2 declarative models of everything coachd keeps between ticks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import JSON, UTC, UTCDateTime

# Deterministic constraint names, so migrations can name what they alter on every backend
# (SQLite has no ALTER for unnamed constraints; batch mode needs names to find them).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROGRAM_ID = 100  # length of program ids
KEY = 512  # idempotency keys, session ids and other composite names
UID = 255  # iCalendar UIDs
MESSAGE_ID = 998  # RFC 5322 line limit, the most a Message-ID header can hold
# A calendar provider's own id of an event or occurrence: Google's are up to 1024 characters (an
# instance's adds "_<UTC time>"), Microsoft Graph's are shorter.
PROVIDER_ID = 1100
CLAIMANT = 200  # "<host>:<pid>:<token>" of the process holding an outbox claim

OUTBOX_STATUSES = ("queued", "sent", "failed")
REPLY_STATUSES = ("handled", "quarantined", "dismissed", "auto-reply")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Series(Base):
    """A booked series (or single event) as the organizer's calendar should hold it."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("program_id", "key"),)

    uid: Mapped[str] = mapped_column(String(UID), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    key: Mapped[str] = mapped_column(String(UID))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    timezone: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]]
    sequence: Mapped[int] = mapped_column(default=0)
    overrides: Mapped[list[Any]] = mapped_column(default=list)
    cancelled: Mapped[bool] = mapped_column(default=False)
    booked_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The series' event in the organizer's calendar provider, by the provider's own id; None where
    # the calendar has no ids of its own (the local calendar knows events by their UID only).
    provider_event_id: Mapped[str | None] = mapped_column(String(PROVIDER_ID), index=True)


class OccurrenceId(Base):
    """A calendar provider's own id of one occurrence of a series, by coachd's UID and RECURRENCE-ID.

    Apart from `sessions`, which the executor rewrites whole each time it records a series: the
    provider's ids outlive those rewrites (an occurrence moved keeps its id there).
    """

    __tablename__ = "occurrence_ids"

    series_uid: Mapped[str] = mapped_column(String(UID), ForeignKey("series.uid"), primary_key=True)
    recurrence_id: Mapped[datetime] = mapped_column(primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(PROVIDER_ID))


class SessionRow(Base):
    """One booked occurrence; id is the session id `<UID>/<RECURRENCE-ID>`."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_program_id_start", "program_id", "start"),
        Index("ix_sessions_series_uid", "series_uid"),
    )

    id: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    series_uid: Mapped[str] = mapped_column(String(UID), ForeignKey("series.uid"))
    kind: Mapped[str] = mapped_column(String(32))
    recurrence_id: Mapped[datetime]
    start: Mapped[datetime]
    end: Mapped[datetime]
    cancelled: Mapped[bool] = mapped_column(default=False)


class ActionLog(Base):
    """The executor's idempotency record: a key here means the action is done."""

    __tablename__ = "action_log"

    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    kind: Mapped[str] = mapped_column(String(64))
    done_at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Outbox(Base):
    """A rendered email waiting to be sent (or sent, or given up on)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
                      Index("ix_outbox_reply_token", "reply_token"), Index("ix_outbox_message_id", "message_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(KEY), unique=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    kind: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(KEY))
    series_uid: Mapped[str | None] = mapped_column(String(UID))
    recipient: Mapped[str] = mapped_column(String(255))
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID))
    # The token in the Reply-To address of a request that expects an answer (daemon/coachd/mail/reply_token.py).
    reply_token: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The drainer that holds the claim: "<host>:<pid>:<process start or random token>" (see
    # execute/outbox.py), so that a claim left by a process that is gone is handed back at once
    # rather than after the lease.
    claimed_by: Mapped[str | None] = mapped_column(String(CLAIMANT))
    # Set, and committed, just before the email is handed to the sender; cleared when it is recorded
    # as sent, failed or not tried. Still set on a queued row, it marks the one email whose outcome
    # a crash left unknown.
    sending_at: Mapped[datetime | None]
    # How often it was sent again after a crash without the provider being able to say whether the
    # first send arrived: each may have arrived twice (`coachd status` counts them).
    resent_after_crash: Mapped[int] = mapped_column(default=0, server_default="0")


class OutboxMessage(Base):
    """The bytes of an outbox email, written once beside its row: the row's state changes (claimed,
    sent, retried) then rewrite a few small columns instead of the whole message each time."""

    __tablename__ = "outbox_messages"

    key: Mapped[str] = mapped_column(String(KEY), ForeignKey("outbox.key"), primary_key=True)
    message: Mapped[bytes] = mapped_column(LargeBinary)


class Reply(Base):
    """An inbound email and what the inbox job made of it."""

    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("program_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID))
    received_at: Mapped[datetime]
    from_addr: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(KEY))
    person_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # The outbox key of the request it answers, once known (matched, or assigned by an admin).
    request_key: Mapped[str | None] = mapped_column(String(KEY))


class Busy(Base):
    """A busy interval of a person, as last observed from a calendar or busy source."""

    __tablename__ = "busy"
    __table_args__ = (Index("ix_busy_program_id_person_id_start", "program_id", "person_id", "start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    person_id: Mapped[str] = mapped_column(String(255))
    start: Mapped[datetime]
    end: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(255))


class Meta(Base):
    """Small named values per program: sync cursors, the simulation's virtual clock."""

    __tablename__ = "meta"

    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class JobRun(Base):
    """One run of a daemon job, for `coachd status` and the digest."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_program_id_job_started_at", "program_id", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    program_id: Mapped[str] = mapped_column(String(PROGRAM_ID))
    job: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)


def _to_utc_on_set(target: object, value: datetime | None, oldvalue: object, initiator: object) -> datetime | None:
    # Fail at the assignment that introduced a naive datetime, not at a later flush, and keep the
    # in-memory value equal to what a reload returns (UTC).
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"store datetimes must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


for _mapper in Base.registry.mappers:
    for _column in _mapper.columns:
        if isinstance(_column.type, UTCDateTime):
            event.listen(getattr(_mapper.class_, _mapper.get_property_by_column(_column).key), "set", _to_utc_on_set, retval=True)
