"""The observed program indexed once for all the figures of one period: its occurrences, answers, absences."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coachd.config import ProgramConfig
from coachd.model.mail_kinds import FEEDBACK_KINDS, NOTES_KINDS
from coachd.model.observed import Observed, latest_answers
from coachd.model.types import BookedSeries, Occurrence, SeriesSpec, SessionKind


@dataclass(frozen=True)
class Held:
    """One occurrence with what the figures need of it."""

    series: BookedSeries
    occurrence: Occurrence

    @property
    def spec(self) -> SeriesSpec:
        return self.series.spec


class ProgramIndex:
    """The observed program, indexed once for all the figures of one period."""

    def __init__(self, cfg: ProgramConfig, observed: Observed, now: datetime) -> None:
        self.cfg = cfg
        self.observed = observed
        self.now = now
        self.occurrences = [Held(b.series, o) for b in observed.bookings.values() for o in b.series.occurrences()]
        self.answers = latest_answers(observed.replies)
        self.feedback_after = cfg.mail.feedback.after
        self._absent: dict[str, frozenset[str]] = {}
        # Each team's group sessions, and its sessions' feedback ratings (when held, who, rating) in time
        # order: the weekly history looks them up by bisection rather than scanning the program each week.
        self.group_by_team: dict[str, list[Held]] = {}
        for h in sorted(self.occurrences, key=lambda h: h.occurrence.start):
            if h.spec.kind is SessionKind.GROUP and h.spec.team_id is not None:
                self.group_by_team.setdefault(h.spec.team_id, []).append(h)
        starts = {h.occurrence.session_id: h for h in self.occurrences}
        rated: dict[str, list[tuple[datetime, str, int]]] = {}
        for r in self.answers:
            held = starts.get(r.session_id) if r.session_id else None
            if (r.request_kind in FEEDBACK_KINDS and r.rating is not None and held and held.spec.team_id
                    and held.spec.kind is SessionKind.GROUP):  # the team's own sessions, not its one-to-ones
                rated.setdefault(held.spec.team_id, []).append((held.occurrence.start, r.person_id, r.rating))
        self.ratings_by_team: dict[str, tuple[list[datetime], list[tuple[str, int]]]] = {
            team: ([t for t, _, _ in rows], [(p, v) for _, p, v in rows])
            for team, rows in ((team, sorted(rows, key=lambda row: row[0])) for team, rows in rated.items())}

    def in_period(self, start: datetime, end: datetime) -> Iterator[Held]:
        return (h for h in self.occurrences if start <= h.occurrence.start < end)

    def held(self, h: Held) -> bool:
        return not h.occurrence.cancelled and h.occurrence.end <= self.now

    def absent(self, h: Held) -> frozenset[str]:
        """Who missed a held occurrence: declined it at the time it kept, or named absent in the coach's notes."""
        found = self._absent.get(h.occurrence.session_id)
        if found is None:
            found = self._absent[h.occurrence.session_id] = self._find_absent(h)
        return found

    def _find_absent(self, h: Held) -> frozenset[str]:
        decline = self.observed.declines.get(h.occurrence.session_id)
        declined = decline.people if decline is not None and decline.start == h.occurrence.start else frozenset()
        notes = self.observed.replies_to(h.occurrence.session_id, NOTES_KINDS, h.spec.host.person_id)
        named = people_named(notes[-1].payload.get("absent", ()) if notes else (), h.spec.everyone())
        return declined | named


def people_named(names: Iterable[object], attendees: Iterable[Any]) -> frozenset[str]:
    """Person ids of the attendees a coach named: by id, full name or first name, any case."""
    found = set()
    by_name: dict[str, set[str]] = {}
    for a in attendees:
        for key in {a.person_id.lower(), a.name.lower(), a.name.split()[0].lower()}:
            by_name.setdefault(key, set()).add(a.person_id)
    for name in names:
        ids = by_name.get(" ".join(str(name).lower().split()), set())
        if len(ids) == 1:  # two attendees of that first name: not guessed
            found |= ids
    return frozenset(found)
