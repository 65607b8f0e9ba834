"""Mail before a session lands in the reader's working hours on a working day (issue 16, point 6)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from coachd.config import load_config
from coachd.model.actions import BookSeries, QueueMail
from coachd.model.mail_kinds import MailKind
from coachd.model.observed import Booking, Observed
from coachd.model.types import UTC
from coachd.plan.mail_times import in_working_hours
from coachd.plan.planner import plan
from coachd.plan.slots import Availability

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
CHICAGO = ZoneInfo("America/Chicago")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
MON_FRI = frozenset(range(5))
SUN_THU = frozenset({6, 0, 1, 2, 3})
DAY = timedelta(days=1)


def reader(zone: ZoneInfo, days: frozenset[int], hours: tuple[time, time] = (time(9), time(17))) -> Availability:
    return Availability("reader", zone, hours, days)


def test_a_monday_nine_oclock_session_gets_its_agenda_on_the_friday_before_in_working_hours():
    session = datetime(2027, 3, 8, 9, 0, tzinfo=CHICAGO)  # a Monday
    due = in_working_hours(session - DAY, reader(CHICAGO, MON_FRI)).astimezone(CHICAGO)
    assert due == datetime(2027, 3, 5, 9, 0, tzinfo=CHICAGO)  # Friday, the start of the working day


def test_a_reader_whose_week_runs_sunday_to_thursday_gets_it_on_thursday():
    session = datetime(2027, 3, 7, 10, 0, tzinfo=JERUSALEM)  # a Sunday: their first working day
    due = in_working_hours(session - DAY, reader(JERUSALEM, SUN_THU)).astimezone(JERUSALEM)
    assert due == datetime(2027, 3, 4, 9, 0, tzinfo=JERUSALEM)  # Thursday


def test_the_same_session_for_a_sunday_to_thursday_reader_on_a_monday_stays_a_day_ahead():
    session = datetime(2027, 3, 8, 11, 0, tzinfo=JERUSALEM)  # Monday; Sunday 11:00 is a working hour for them
    due = in_working_hours(session - DAY, reader(JERUSALEM, SUN_THU))
    assert due == session - DAY


def test_inside_working_hours_the_due_time_is_kept():
    session = datetime(2027, 3, 10, 14, 0, tzinfo=CHICAGO)  # a Wednesday
    assert in_working_hours(session - DAY, reader(CHICAGO, MON_FRI)) == session - DAY


def test_before_the_working_day_starts_it_moves_to_the_previous_working_day():
    session = datetime(2027, 3, 10, 8, 0, tzinfo=CHICAGO)  # Wednesday 08:00; Tuesday 08:00 is before hours
    due = in_working_hours(session - DAY, reader(CHICAGO, MON_FRI)).astimezone(CHICAGO)
    assert due == datetime(2027, 3, 8, 9, 0, tzinfo=CHICAGO)  # Monday's start


def test_at_the_end_of_the_working_day_it_is_already_outside_hours():
    session = datetime(2027, 3, 10, 17, 0, tzinfo=CHICAGO)
    due = in_working_hours(session - DAY, reader(CHICAGO, MON_FRI)).astimezone(CHICAGO)
    assert due == datetime(2027, 3, 9, 9, 0, tzinfo=CHICAGO)


def test_across_the_dst_change_the_readers_own_clock_decides():
    session = datetime(2027, 3, 15, 9, 0, tzinfo=CHICAGO)  # Monday after the US change on 14 March
    due = in_working_hours(session - DAY, reader(CHICAGO, MON_FRI)).astimezone(CHICAGO)
    assert due == datetime(2027, 3, 12, 9, 0, tzinfo=CHICAGO)


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


def _sun_thu(cfg, person_id: str):
    people = [p.model_copy(update={"days": SUN_THU}) if p.id == person_id else p for p in cfg.people]
    return cfg.model_copy(update={"people": people})


@pytest.mark.parametrize("variant", ["example", "claire works sun-thu"])
def test_every_agenda_in_the_first_weeks_lands_in_its_readers_working_hours(cfg, variant):
    if variant != "example":
        cfg = _sun_thu(cfg, "claire")
    start = datetime.combine(cfg.program.starts, time(0), cfg.program.zone).astimezone(UTC)
    booked = [a.series for a in plan(cfg, Observed(), start, session_mail=False, program_mail=False).actions
              if isinstance(a, BookSeries)]
    observed = Observed(bookings={s.spec.key: Booking(s, start) for s in booked})
    agendas: dict[str, QueueMail] = {}
    now = start
    while now < start + timedelta(weeks=5):
        now += timedelta(hours=6)
        result = plan(cfg, observed, now, booking=False, program_mail=False)
        for action in result.actions:
            if isinstance(action, QueueMail) and action.kind in (MailKind.AGENDA, MailKind.CHECK_IN):
                agendas.setdefault(action.key, action)
        observed = Observed(bookings=observed.bookings, queued=observed.queued | {a.key for a in result.actions
                                                                                    if isinstance(a, QueueMail)})
    assert len(agendas) > 20
    for mail in agendas.values():
        person = cfg.person(mail.recipient.person_id)
        local = mail.due.astimezone(person.zone)
        where = (mail.key, local.isoformat())
        assert local.weekday() in person.days, where
        assert person.hours.start <= local.time() < person.hours.end, where
        assert mail.due <= mail.occurrence.start - cfg.mail.agenda.before, where


def test_the_review_pack_lands_in_each_readers_working_hours_with_one_period_for_all(cfg):
    from coachd.plan.planner import REVIEW_PACK_BEFORE, review_mail

    start = datetime.combine(cfg.program.starts, time(0), cfg.program.zone).astimezone(UTC)
    booked = [a.series for a in plan(cfg, Observed(), start, session_mail=False, program_mail=False).actions
              if isinstance(a, BookSeries)]
    review = next(s for s in booked if s.spec.key == "sponsor_review")
    checked = 0
    for occurrence in review.occurrences():
        packs = [i.mail for i in review_mail(cfg, review, occurrence)]
        assert len({m.period for m in packs}) == 1
        for mail in packs:
            person = cfg.person(mail.recipient.person_id)
            local = mail.due.astimezone(person.zone)
            assert local.weekday() in person.days and person.hours.start <= local.time() < person.hours.end, \
                (mail.key, local.isoformat())
            assert mail.due <= occurrence.start - REVIEW_PACK_BEFORE
            checked += 1
    assert checked > 10
