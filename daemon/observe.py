"""The observe step: read what the store and providers know into an `Observed` value."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select

from daemon.core.observed import Booking, Observed, ReplyFact
from daemon.core.serial import booked_from_row
from daemon.core.types import Interval
from daemon.store.db import Store
from daemon.store.models import Busy, Outbox, Reply, Series


# Parsed series by uid, with the (sequence, updated_at) they were parsed at: a tick re-reads
# only the series that changed since, and keeps their expanded occurrences.
SeriesCache = dict[str, tuple[tuple[int, datetime], Booking]]


def observe(store: Store, program_id: str, cache: SeriesCache | None = None) -> Observed:
    cache = {} if cache is None else cache
    with store.session() as db:
        versions = db.execute(select(Series.uid, Series.sequence, Series.updated_at)
                              .where(Series.program_id == program_id)).all()
        stale = [uid for uid, sequence, updated in versions
                 if uid not in cache or cache[uid][0] != (sequence, updated)]
        if stale:
            for row in db.scalars(select(Series).where(Series.uid.in_(stale))):
                booking = Booking(booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled),
                                  row.booked_at)
                cache[row.uid] = ((row.sequence, row.updated_at), booking)
        current = {uid for uid, _, _ in versions}
        for uid in list(cache):
            if uid not in current:
                del cache[uid]
        bookings = {booking.series.spec.key: booking for _, booking in cache.values()}
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
