"""Busy times read from people's own calendars (Google free/busy) include coachd's sessions: a series is never
its own conflict, while another series of the same person at the same time still is (issue 17 point 5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import pytest

from coachd.model.actions import BookSeries
from coachd.model.observed import Booking, Observed
from coachd.model.types import BookedSeries, Interval, Override, SessionKind
from coachd.plan.own_sessions import without_own_sessions
from coachd.plan.planner import plan


@pytest.fixture(scope="module")
def booked(cfg, start) -> dict[str, BookedSeries]:
    result = plan(cfg, Observed(), start, session_mail=False, program_mail=False)
    return {a.series.spec.key: a.series for a in result.actions if isinstance(a, BookSeries)}


def calendars_view(series: list[BookedSeries]) -> dict[str, list[Interval]]:
    """Each person's free/busy as Google answers it: every occurrence they were invited to, nothing else."""
    busy: dict[str, list[Interval]] = {}
    for one in series:
        for occurrence in one.occurrences():
            if not occurrence.cancelled:
                for attendee in one.spec.everyone():
                    busy.setdefault(attendee.person_id, []).append(occurrence.interval)
    return busy


def replan(cfg, booked: dict[str, BookedSeries], now, busy, shows_sessions: bool):
    observed = Observed(bookings={k: Booking(s, now - timedelta(days=7)) for k, s in booked.items()}, busy=busy,
                        busy_shows_sessions=shows_sessions)
    return plan(cfg, observed, now, session_mail=False, program_mail=False)


def test_booked_sessions_in_peoples_calendars_move_nothing(cfg, start, booked) -> None:
    now = start + timedelta(days=7)
    busy = calendars_view(list(booked.values()))
    result = replan(cfg, booked, now, busy, shows_sessions=True)
    assert [a for a in result.actions if isinstance(a, BookSeries)] == []
    assert result.conflicts == []
    # What it guards against: taken whole, the same calendars make every series collide with itself.
    naive = replan(cfg, booked, now, busy, shows_sessions=False)
    assert [a for a in naive.actions if isinstance(a, BookSeries)] or naive.conflicts


def test_another_series_of_the_same_person_at_the_same_time_is_still_a_conflict(cfg, start, booked) -> None:
    now = start + timedelta(days=7)
    group = next(s for s in booked.values() if s.spec.kind is SessionKind.GROUP)
    coach = group.spec.host.person_id
    individual = next(s for s in booked.values() if s.spec.kind is SessionKind.INDIVIDUAL
                      and s.spec.host.person_id == coach)
    # One of the individual's occurrences lands on a group session of the same coach (as a stale placement would).
    target = next(o for o in individual.occurrences() if o.start > now + timedelta(weeks=2))
    clash = next(o for o in group.occurrences() if o.start.isocalendar()[:2] == target.start.isocalendar()[:2])
    length = target.end - target.start
    moved = replace(individual, overrides=(*individual.overrides,
                                           Override(target.recurrence_id, clash.start, clash.start + length)))
    state = {**booked, individual.spec.key: moved}
    result = replan(cfg, state, now, calendars_view(list(state.values())), shows_sessions=True)
    changed = {a.series.spec.key: a.series for a in result.actions if isinstance(a, BookSeries)}
    # The planner moves one of the two (whichever it repairs first); nothing else moves.
    assert changed and set(changed) <= {group.spec.key, individual.spec.key}, sorted(changed)
    after = {**state, **changed}
    week = target.start.isocalendar()[:2]
    coach_week = sorted(o.interval for key in (group.spec.key, individual.spec.key) for o in after[key].occurrences()
                        if o.start.isocalendar()[:2] == week and not o.cancelled)
    assert all(a.end <= b.start for a, b in pairwise(coach_week)), coach_week


def test_only_the_persons_own_occurrences_are_cut_and_the_rest_of_a_block_stays(cfg, booked) -> None:
    group = next(s for s in booked.values() if s.spec.kind is SessionKind.GROUP)
    first = group.occurrences()[0]
    member = next(a.person_id for a in group.spec.everyone() if a.person_id != group.spec.host.person_id)
    outsider = next(p.id for p in cfg.people if p.id not in {a.person_id for a in group.spec.everyone()})
    around = Interval(first.start - timedelta(hours=1), first.end + timedelta(hours=1))
    got = without_own_sessions({member: [around], outsider: [first.interval]}, [group])
    assert got[member] == [Interval(around.start, first.start), Interval(first.end, around.end)]
    assert got[outsider] == [first.interval], "someone not invited keeps a block at the same time"



def test_coachd_plan_marks_no_occurrence_busy_for_its_own_session_but_does_for_another_series(cfg, booked) -> None:
    from coachd.reporting.dry_run import _cost

    group = next(s for s in booked.values() if s.spec.kind is SessionKind.GROUP)
    occurrence = group.occurrences()[5]
    member = next(a.person_id for a in group.spec.everyone() if a.person_id != group.spec.host.person_id)
    seen = {member: [occurrence.interval]}  # the group session, as the member's calendar shows it
    assert _cost(cfg, group, occurrence, Observed(busy=seen, busy_shows_sessions=True)).conflicts == ()
    assert member in _cost(cfg, group, occurrence, Observed(busy=seen)).conflicts  # taken whole, as before
    # The member's one-to-one shown at that same time: the group session in their calendar is its conflict.
    individual = next(s for s in booked.values() if s.spec.kind is SessionKind.INDIVIDUAL
                      and member in {a.person_id for a in s.spec.everyone()})
    there = replace(individual.occurrences()[0], start=occurrence.start, end=occurrence.start + timedelta(minutes=30))
    assert member in _cost(cfg, individual, there, Observed(busy=seen, busy_shows_sessions=True)).conflicts
