"""What a tick observed: the calendar as booked, people's busy times, the outbox and replies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from coachd.plan.calendar_truth import Decline
from coachd.model.mail_kinds import FEEDBACK_KINDS
from coachd.model.types import BookedSeries, Interval


@dataclass(frozen=True)
class Booking:
    series: BookedSeries
    booked_at: datetime


@dataclass(frozen=True)
class ReplyFact:
    """A reply coachd matched to one of its requests."""

    request_kind: str
    session_id: str | None
    person_id: str
    received_at: datetime
    rating: int | None = None
    payload: Mapping[str, object] = field(default_factory=dict)
    # The outbox key of the request answered: tells apart the answers to mail that is about no
    # session (each goal check-in); None for replies stored before it was kept.
    request_key: str | None = None

    @property
    def request_ref(self) -> str | None:
        """The request's subject ("goals-3" of "mail:<program>/goals-3/goal-check-in/<person>")."""
        if not self.request_key or not self.request_key.startswith("mail:"):
            return None
        parts = self.request_key.split("/")
        return "/".join(parts[1:-2]) if len(parts) >= 4 else None


def latest_answers(replies: Iterable[ReplyFact]) -> list[ReplyFact]:
    """One answer per person and request, oldest first: a second reply to the same request (a
    correction, an afterthought) replaces the first, and an answer to the feedback reminder
    answers the same question as one to the request."""
    def question(kind: str) -> str:
        return "feedback" if kind in FEEDBACK_KINDS else kind

    latest: dict[tuple[str, str | None, str], ReplyFact] = {}
    for reply in sorted(replies, key=lambda r: r.received_at):
        # About a session, the session says which request; otherwise (goal check-ins) the request's own subject.
        about = reply.session_id if reply.session_id is not None else reply.request_ref
        latest[(question(reply.request_kind), about, reply.person_id)] = reply
    return sorted(latest.values(), key=lambda r: r.received_at)


@dataclass(frozen=True)
class BusyError:
    """A person whose busy times could not be read on the last try: why, and since when it fails."""

    error: str
    since: datetime


@dataclass(frozen=True)
class Observed:
    bookings: Mapping[str, Booking] = field(default_factory=dict)
    busy: Mapping[str, Sequence[Interval]] = field(default_factory=dict)
    queued: frozenset[str] = frozenset()
    replies: Sequence[ReplyFact] = ()
    # Coachee id -> "stress" | "steady" | "momentum", as reply tracking last judged it.
    states: Mapping[str, str] = field(default_factory=dict)
    # Ids of held cancellation passes an admin confirmed (`coachd confirm`).
    confirmed: frozenset[str] = frozenset()
    # Session id -> who declined that occurrence in the organizer's calendar, and at what time it was then.
    declines: Mapping[str, Decline] = field(default_factory=dict)
    # People whose busy source failed on its last read (the last busy times read, if any, stay in `busy`).
    busy_errors: Mapping[str, BusyError] = field(default_factory=dict)
    # People whose busy times were read at least once; None where nobody tracks it (values built by hand).
    busy_read: frozenset[str] | None = None
    # Person -> when their busy source was read again after failing: their series are re-checked whole.
    busy_recovered: Mapping[str, datetime] = field(default_factory=dict)
    # Whether `busy` was read from people's own calendars, where coachd's sessions are too (Google or Graph
    # free/busy): the planner then leaves each person's booked occurrences out of it (plan/own_sessions.py).
    busy_shows_sessions: bool = False

    @property
    def busy_unknown(self) -> dict[str, str]:
        """Person -> why, for those whose busy times failed and were never read: unknown, not free."""
        return {pid: e.error for pid, e in sorted(self.busy_errors.items())
                if self.busy_read is None or pid not in self.busy_read}

    def booked(self) -> list[BookedSeries]:
        return [b.series for b in self.bookings.values()]

    @cached_property
    def _replies_by_session(self) -> dict[str | None, list[ReplyFact]]:
        index: dict[str | None, list[ReplyFact]] = {}
        for reply in sorted(self.replies, key=lambda r: r.received_at):
            index.setdefault(reply.session_id, []).append(reply)
        return index

    def replies_to(self, session_id: str, kinds: frozenset[str], person_id: str | None = None) -> list[ReplyFact]:
        """Replies to requests of `kinds` about one session, oldest first."""
        return [r for r in self._replies_by_session.get(session_id, ())
                if r.request_kind in kinds and (person_id is None or r.person_id == person_id)]
