"""The observe step: read what the store knows into an `Observed` value, re-reading only what changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from coachd.plan.calendar_truth import Decline
from coachd.model.observed import Booking, Observed, ReplyFact
from coachd.plan.rsvp import merge_declines, rsvp_declines
from coachd.model.serial import booked_from_row
from coachd.model.types import Interval
from coachd.store.db import Store
from coachd.store.models import Busy, Meta, Outbox, Reply, Series

# Meta names the planner reads: coachee states (set by reply tracking, or by hand) and confirmed holds.
STATES_META = "coachee_states"
CONFIRMED_META = "confirmed_holds"
# Who declined which occurrence, as the calendar sync last read it.
DECLINES_META = "declines"
# The virtual clock of a simulated state (`coachd simulate`); commands read their "now" from it.
CLOCK_KEY = "simulation_clock"


def declines_to_json(declines: dict[str, Decline]) -> dict[str, dict[str, object]]:
    return {sid: {"start": d.start.isoformat(), "people": sorted(d.people)} for sid, d in sorted(declines.items())}


def declines_from_json(value: dict[str, dict]) -> dict[str, Decline]:
    return {sid: Decline(datetime.fromisoformat(d["start"]), frozenset(d["people"])) for sid, d in value.items()}


def handled_replies(db, program_id: str, people: Sequence[str] | None = None,  # type: ignore[no-untyped-def]
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


class Observer:
    """Reads a program's state for the planner.

    The planner runs many times a day on state that mostly stands still, so the
    parsed series (and their expanded occurrences), busy times and outbox keys
    are kept between calls and refreshed by cheap version checks: a series by
    its (sequence, updated_at), busy times by (row count, highest id), the
    outbox by its highest id (rows are never deleted). The store stays the
    truth, so several replicas sharing one database still see each other's work.
    """

    def __init__(self, store: Store, program_id: str) -> None:
        self.store = store
        self.program_id = program_id
        self._series: dict[str, tuple[tuple[int, datetime], Booking]] = {}
        self._busy_version: tuple[int, int | None] | None = None
        self._busy: dict[str, list[Interval]] = {}
        self._queued: set[str] = set()
        self._outbox_high = 0

    def observe(self) -> Observed:
        with self.store.session() as db:
            self._refresh_series(db)
            self._refresh_busy(db)
            rows = db.execute(select(Outbox.id, Outbox.key).where(Outbox.program_id == self.program_id,
                                                                  Outbox.id > self._outbox_high)).all()
            for row_id, key in rows:
                self._queued.add(key)
                self._outbox_high = max(self._outbox_high, row_id)
            replies = handled_replies(db, self.program_id)
            meta = dict(db.execute(select(Meta.name, Meta.value).where(
                Meta.program_id == self.program_id, Meta.name.in_((STATES_META, CONFIRMED_META, DECLINES_META)))).all())
        bookings = {booking.series.spec.key: booking for _, booking in self._series.values()}
        declines = merge_declines(declines_from_json(meta.get(DECLINES_META) or {}),
                                  rsvp_declines(replies, bookings))
        return Observed(bookings=bookings, busy=self._busy, queued=frozenset(self._queued), replies=replies,
                        states=dict(meta.get(STATES_META) or {}),
                        confirmed=frozenset(meta.get(CONFIRMED_META) or ()), declines=declines)

    def _refresh_series(self, db) -> None:  # type: ignore[no-untyped-def]
        versions = db.execute(select(Series.uid, Series.sequence, Series.updated_at)
                              .where(Series.program_id == self.program_id)).all()
        stale = [uid for uid, sequence, updated in versions
                 if uid not in self._series or self._series[uid][0] != (sequence, updated)]
        if stale:
            for row in db.scalars(select(Series).where(Series.uid.in_(stale))):
                booking = Booking(booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled),
                                  row.booked_at)
                self._series[row.uid] = ((row.sequence, row.updated_at), booking)
        current = {uid for uid, _, _ in versions}
        for uid in [uid for uid in self._series if uid not in current]:
            del self._series[uid]

    def _refresh_busy(self, db) -> None:  # type: ignore[no-untyped-def]
        version = tuple(db.execute(select(func.count(), func.max(Busy.id))
                                   .where(Busy.program_id == self.program_id)).one())
        if version == self._busy_version:
            return
        busy: dict[str, list[Interval]] = defaultdict(list)
        for person_id, start, end in db.execute(
            select(Busy.person_id, Busy.start, Busy.end).where(Busy.program_id == self.program_id)
            .order_by(Busy.start)
        ):
            busy[person_id].append(Interval(start, end))
        self._busy, self._busy_version = dict(busy), version  # type: ignore[assignment]


def observe(store: Store, program_id: str) -> Observed:
    """One-off read, for commands that only look."""
    return Observer(store, program_id).observe()
