"""The observe step: read what the store knows into an `Observed` value, re-reading only what changed."""

from __future__ import annotations

from datetime import datetime

from coachd.plan.calendar_truth import Decline
from coachd.model.observed import Booking, BusyError, Observed
from coachd.plan.rsvp import merge_declines, rsvp_declines
from coachd.model.serial import booked_from_row
from coachd.model.types import Interval
from coachd.store import busy_repo, meta_repo, outbox_repo, replies_repo, series_repo
from coachd.store.db import Store

# Meta names the planner reads: coachee states (set by reply tracking, or by hand) and confirmed holds.
STATES_META = "coachee_states"
CONFIRMED_META = "confirmed_holds"
# Who declined which occurrence, as the calendar sync last read it.
DECLINES_META = "declines"
# Whose busy source failed on its last read ({person: {"error", "since"}}), and whose was read again after
# failing ({person: when}); written by the calendar sync. A person's busy times were read at least once
# when the fingerprint "busy:<person>" of what was stored exists.
BUSY_ERRORS_META = "busy_errors"
BUSY_RECOVERED_META = "busy_recovered"
BUSY_FINGERPRINT = "busy:"
# The virtual clock of a simulated state (`coachd simulate`); commands read their "now" from it.
CLOCK_KEY = "simulation_clock"


def declines_to_json(declines: dict[str, Decline]) -> dict[str, dict[str, object]]:
    return {sid: {"start": d.start.isoformat(), "people": sorted(d.people)} for sid, d in sorted(declines.items())}


def declines_from_json(value: dict[str, dict]) -> dict[str, Decline]:
    return {sid: Decline(datetime.fromisoformat(d["start"]), frozenset(d["people"])) for sid, d in value.items()}


def busy_errors_from_json(value: dict[str, dict]) -> dict[str, BusyError]:
    return {pid: BusyError(e["error"], datetime.fromisoformat(e["since"])) for pid, e in value.items()}


class Observer:
    """Reads a program's state for the planner.

    The planner runs many times a day on state that mostly stands still, so the
    parsed series (and their expanded occurrences), busy times and outbox keys
    are kept between calls and refreshed by cheap version checks: a series by
    its (sequence, updated_at), busy times by (row count, highest id), the
    outbox by its highest id (rows are never deleted). The store stays the
    truth, so several replicas sharing one database still see each other's work.
    """

    def __init__(self, store: Store, program_id: str, *, busy_shows_sessions: bool = False) -> None:
        self.store = store
        self.program_id = program_id
        # The busy provider's declared `shows_sessions`: what it reads includes coachd's own sessions.
        self.busy_shows_sessions = busy_shows_sessions
        self._series: dict[str, tuple[tuple[int, datetime], Booking]] = {}
        self._busy_version: tuple[int, int | None] | None = None
        self._busy: dict[str, list[Interval]] = {}
        self._queued: set[str] = set()
        self._outbox_high = 0

    def observe(self) -> Observed:
        with self.store.session() as db:
            self._refresh_series(db)
            self._refresh_busy(db)
            for row_id, key in outbox_repo.keys_after(db, self.program_id, self._outbox_high):
                self._queued.add(key)
                self._outbox_high = max(self._outbox_high, row_id)
            replies = replies_repo.handled(db, self.program_id)
            meta = meta_repo.values(db, self.program_id, (STATES_META, CONFIRMED_META, DECLINES_META,
                                                          BUSY_ERRORS_META, BUSY_RECOVERED_META))
            read = frozenset(name.removeprefix(BUSY_FINGERPRINT)
                             for name, _ in meta_repo.with_prefix(db, self.program_id, BUSY_FINGERPRINT))
        bookings = {booking.series.spec.key: booking for _, booking in self._series.values()}
        declines = merge_declines(declines_from_json(meta.get(DECLINES_META) or {}),
                                  rsvp_declines(replies, bookings))
        return Observed(bookings=bookings, busy=self._busy, queued=frozenset(self._queued), replies=replies,
                        states=dict(meta.get(STATES_META) or {}),
                        confirmed=frozenset(meta.get(CONFIRMED_META) or ()), declines=declines,
                        busy_errors=busy_errors_from_json(meta.get(BUSY_ERRORS_META) or {}), busy_read=read,
                        busy_recovered={pid: datetime.fromisoformat(at)
                                        for pid, at in (meta.get(BUSY_RECOVERED_META) or {}).items()},
                        busy_shows_sessions=self.busy_shows_sessions)

    def _refresh_series(self, db) -> None:  # type: ignore[no-untyped-def]
        versions = series_repo.versions(db, self.program_id)
        stale = [uid for uid, sequence, updated in versions
                 if uid not in self._series or self._series[uid][0] != (sequence, updated)]
        if stale:
            for row in series_repo.by_uids(db, stale):
                booking = Booking(booked_from_row(row.spec, row.sequence, row.overrides, row.cancelled),
                                  row.booked_at)
                self._series[row.uid] = ((row.sequence, row.updated_at), booking)
        current = {uid for uid, _, _ in versions}
        for uid in [uid for uid in self._series if uid not in current]:
            del self._series[uid]

    def _refresh_busy(self, db) -> None:  # type: ignore[no-untyped-def]
        version = busy_repo.version(db, self.program_id)
        if version == self._busy_version:
            return
        self._busy, self._busy_version = busy_repo.by_person(db, self.program_id), version


def observe(store: Store, program_id: str) -> Observed:
    """One-off read, for commands that only look."""
    return Observer(store, program_id).observe()
