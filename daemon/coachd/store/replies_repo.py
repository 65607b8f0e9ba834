"""Inbound replies and what the inbox (or an admin) made of them; nothing here deletes one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coachd.model.observed import ReplyFact

from .models import Reply


def is_recorded(db: Session, program_id: str, message_id: str) -> bool:
    """Whether a message with this Message-ID is in the store already."""
    return db.scalar(select(Reply.id).where(Reply.program_id == program_id,
                                            Reply.message_id == message_id)) is not None


def add(db: Session, program_id: str, message_id: str, received_at: datetime, from_addr: str, *,
        kind: str | None, session_id: str | None, person_id: str | None, status: str, reason: str | None,
        rating: int | None, payload: dict[str, Any], raw: bytes, request_key: str | None = None) -> None:
    db.add(Reply(program_id=program_id, message_id=message_id, received_at=received_at, from_addr=from_addr,
                 kind=kind, session_id=session_id, person_id=person_id, status=status, reason=reason,
                 rating=rating, payload=payload, raw=raw, request_key=request_key))


def handled(db: Session, program_id: str, people: Sequence[str] | None = None,
            since: datetime | None = None) -> list[ReplyFact]:
    """The replies matched to a request (of `people` only, and received at or after `since`, if
    given), as the planner reads them: never the raw messages, which can be large."""
    query = select(Reply.kind, Reply.session_id, Reply.person_id, Reply.received_at, Reply.rating,
                   Reply.payload, Reply.request_key).where(Reply.program_id == program_id, Reply.status == "handled")
    if people is not None:
        query = query.where(Reply.person_id.in_(people))
    if since is not None:
        query = query.where(Reply.received_at >= since)
    return [ReplyFact(kind or "", session_id, person_id or "", received_at, rating, payload or {}, request_key)
            for kind, session_id, person_id, received_at, rating, payload, request_key in db.execute(query)]


def get(db: Session, program_id: str, reply_id: int) -> Reply | None:
    """A reply of this program by its id."""
    reply = db.get(Reply, reply_id)
    return reply if reply is not None and reply.program_id == program_id else None


def quarantined(db: Session, program_id: str, *, newest_first: bool = False,
                limit: int | None = None) -> Sequence[Reply]:
    """The quarantined replies in the order they came (or the newest first)."""
    order = (Reply.received_at.desc(),) if newest_first else (Reply.received_at, Reply.id)
    return db.scalars(select(Reply).where(Reply.program_id == program_id, Reply.status == "quarantined")
                      .order_by(*order).limit(limit)).all()


def answers_of_kinds(db: Session, program_id: str, kinds: Iterable[str]) -> list[tuple[Any, ...]]:
    """(session_id, person_id, rating, payload, received_at, kind) of the handled replies of `kinds`,
    in the order they came."""
    return [tuple(row) for row in db.execute(
        select(Reply.session_id, Reply.person_id, Reply.rating, Reply.payload, Reply.received_at, Reply.kind)
        .where(Reply.program_id == program_id, Reply.status == "handled", Reply.kind.in_(sorted(kinds)))
        .order_by(Reply.received_at, Reply.id)).all()]


def assign(reply: Reply, *, kind: str, session_id: str | None, person_id: str, rating: int | None,
           payload: dict[str, Any], request_key: str, reason: str) -> None:
    """Take a reply as an answer to the request `request_key` (an admin's decision, with `reason`)."""
    reply.status, reply.kind, reply.session_id, reply.person_id = "handled", kind, session_id, person_id
    reply.rating, reply.payload, reply.request_key = rating, payload, request_key
    reply.reason = reason


def dismiss(reply: Reply, reason: str) -> None:
    """Set a reply aside for good; its row and raw message stay."""
    reply.status = "dismissed"
    reply.reason = reason


def status_counts(db: Session, program_id: str) -> Counter[str]:
    return Counter(db.scalars(select(Reply.status).where(Reply.program_id == program_id)))
