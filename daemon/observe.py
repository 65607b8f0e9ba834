"""The observe step: read what the store and providers know into an `Observed` value."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from daemon.core.observed import Booking, Observed, ReplyFact
from daemon.core.serial import booked_from_row
from daemon.core.types import Interval
from daemon.store.db import Store
from daemon.store.models import Busy, Outbox, Reply, Series


def observe(store: Store, program_id: str) -> Observed:
    with store.session() as db:
        bookings = {
            row.key: Booking(booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled), row.booked_at)
            for row in db.scalars(select(Series).where(Series.program_id == program_id))
        }
        busy: dict[str, list[Interval]] = defaultdict(list)
        for person_id, start, end in db.execute(
            select(Busy.person_id, Busy.start, Busy.end).where(Busy.program_id == program_id).order_by(Busy.start)
        ):
            busy[person_id].append(Interval(start, end))
        queued = frozenset(db.scalars(select(Outbox.key).where(Outbox.program_id == program_id)))
        replies = [
            ReplyFact(r.kind or "", r.session_id, r.person_id or "", r.received_at, r.rating, r.payload or {})
            for r in db.scalars(select(Reply).where(Reply.program_id == program_id, Reply.status == "handled"))
        ]
    return Observed(bookings=bookings, busy=dict(busy), queued=queued, replies=replies)
