"""The pure planner on the example program: every series placed sensibly, and level-triggered."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coachd.model.actions import BookSeries, QueueMail
from coachd.model.observed import Booking, Observed
from coachd.plan.planner import plan
from coachd.model.types import SessionKind



@pytest.fixture(scope="module")
def booked(cfg, start):
    result = plan(cfg, Observed(), start, session_mail=False, program_mail=False)
    assert not result.problems, result.problems
    return [a.series for a in result.actions if isinstance(a, BookSeries)]


def test_every_series_kind_is_booked_once(cfg, booked):
    kinds = [s.spec.kind for s in booked]
    teams, coachees = len(cfg.teams), len(cfg.coachees())
    assert kinds.count(SessionKind.GROUP) == teams
    assert kinds.count(SessionKind.KICKOFF) == teams
    assert kinds.count(SessionKind.WRAPUP) == teams
    assert kinds.count(SessionKind.INDIVIDUAL) == coachees
    assert kinds.count(SessionKind.CIRCLE) == 1
    assert kinds.count(SessionKind.SPONSOR_REVIEW) == 1
    assert len({s.spec.uid for s in booked}) == len(booked)


def test_recurring_series_are_one_event_with_a_rule(booked):
    for series in booked:
        if series.spec.kind in (SessionKind.KICKOFF, SessionKind.WRAPUP):
            assert series.spec.rrule() is None
        else:
            assert series.spec.rrule().startswith("FREQ=WEEKLY;INTERVAL=")


def test_no_coach_is_double_booked(cfg, booked):
    for coach in cfg.coaches():
        spans = sorted((o.start, o.end, s.spec.key) for s in booked for o in s.occurrences()
                       if coach.id in {a.person_id for a in s.spec.everyone()})
        for (s1, e1, k1), (s2, e2, k2) in zip(spans, spans[1:]):
            assert e1 <= s2, f"{coach.id}: {k1} {s1}-{e1} overlaps {k2} {s2}"


def test_team_sessions_are_in_everyones_hours_in_the_first_week(cfg, booked):
    for series in booked:
        if series.spec.kind not in (SessionKind.GROUP, SessionKind.INDIVIDUAL, SessionKind.KICKOFF):
            continue
        first = series.occurrences()[0]
        for attendee in series.spec.everyone():
            person = cfg.person(attendee.person_id)
            local_start, local_end = first.start.astimezone(person.zone), first.end.astimezone(person.zone)
            assert local_start.weekday() in person.days, (series.spec.key, attendee.person_id)
            assert person.hours.start <= local_start.time() and local_end.time() <= person.hours.end, \
                (series.spec.key, attendee.person_id, local_start)


def test_no_occurrence_on_a_blackout_day(cfg, booked):
    blackout = cfg.program.blackout_days()
    for series in booked:
        for occurrence in series.occurrences():
            assert occurrence.start.astimezone(cfg.program.zone).date() not in blackout


def test_first_sessions_respect_the_booking_notice(cfg, booked, start):
    assert min(s.occurrences()[0].start for s in booked) >= start + cfg.scheduling.notice


def test_replanning_with_the_outcome_applied_yields_nothing(cfg, booked, start):
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in booked})
    later = start + timedelta(days=10)
    first = plan(cfg, observed, later)
    assert not any(isinstance(a, BookSeries) for a in first.actions)
    mails = [a for a in first.actions if isinstance(a, QueueMail)]
    assert mails, "ten days in, invitations and agendas are due"
    assert len({m.key for m in mails}) == len(mails)
    done = Observed(bookings=observed.bookings, queued=frozenset(m.key for m in mails))
    assert plan(cfg, done, later).actions == []


def test_stale_mail_is_skipped_not_sent_late(cfg, booked, start):
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in booked})
    late = start + timedelta(weeks=6)
    agendas = [a for a in plan(cfg, observed, late).actions if isinstance(a, QueueMail) and a.kind == "agenda"]
    assert all(a.occurrence.start > late for a in agendas)


def test_a_changed_team_updates_the_series_with_a_new_sequence(cfg, booked, start):
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in booked})
    team = cfg.teams[0]
    # A year of sessions for the one who leaves: more than the default max_cancellations, so raise it.
    changed = cfg.model_copy(update={
        "teams": [team.model_copy(update={"members": team.members[:-1]}), *cfg.teams[1:]],
        "scheduling": cfg.scheduling.model_copy(update={"max_cancellations": 1000})})
    held = plan(cfg.model_copy(update={"teams": changed.teams}), observed, start + timedelta(days=1))
    assert held.held and not [a for a in held.actions if isinstance(a, BookSeries)]
    updates = [a for a in plan(changed, observed, start + timedelta(days=1)).actions if isinstance(a, BookSeries)]
    keys = {a.series.spec.key for a in updates}
    assert f"group:{team.id}" in keys and f"kickoff:{team.id}" in keys
    assert all(a.series.sequence == 1 for a in updates)
    assert f"individual:{team.members[0]}" not in keys
