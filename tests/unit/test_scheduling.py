"""Scheduling through a year: DST on different dates, busy days, turn-taking, stability, late additions.

Each test builds a small program, lets the planner book it, and checks every
occurrence in every attendee's own clock with zoneinfo, independently of the
code under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from coachd.config import load_config_text
from coachd.model.actions import BookSeries
from coachd.model.observed import Booking, Observed
from coachd.plan.planner import plan
from coachd.model.types import UTC, BookedSeries, Interval

BASE = """
program: {{id: p1, name: Test Program, timezone: {zone}, starts: {starts}, ends: {ends}}}
organizer: {{name: Office, email: office@example.org}}
people:
{people}
sponsors: []
teams:
{teams}
sessions:
  group: {{every: 1w, length: 60m}}
  individual: {{every: 2w, length: 30m}}
  circle: {{every: 4w, length: 45m}}
  kickoff: {{length: 60m}}
  wrapup: {{length: 60m}}
  sponsor_review: {{every: 13w, length: 60m}}
scheduling: {{notice: 48h, buffer: 15m, max_individual_per_day: {per_day}}}
"""


def program(people: list[tuple[str, str, str]], teams: list[tuple[str, str, list[str]]], *, zone: str = "UTC",
            starts: str = "2027-01-04", ends: str = "2027-12-17", per_day: int = 4):
    """A config from (id, zone, hours) people and (team id, coach, members) teams, all working mon-fri."""
    people_yaml = "\n".join(
        f"  - {{id: {pid}, name: {pid.title()}, email: {pid}@example.org, timezone: {tz}, hours: '{hours}', "
        f"days: mon-fri}}" for pid, tz, hours in people)
    teams_yaml = "\n".join(f"  - {{id: {tid}, name: Team {tid}, coach: {coach}, members: [{', '.join(members)}]}}"
                           for tid, coach, members in teams)
    text = BASE.format(zone=zone, starts=starts, ends=ends, people=people_yaml, teams=teams_yaml, per_day=per_day)
    return load_config_text(text, Path("/tmp/test-program.yaml"))


def book(cfg, now: datetime, busy=None, bookings=None):
    observed = Observed(bookings=bookings or {}, busy=busy or {})
    result = plan(cfg, observed, now, session_mail=False, program_mail=False)
    assert not result.problems, result.problems
    booked = {key: b.series for key, b in (bookings or {}).items()}
    booked.update({a.series.spec.key: a.series for a in result.actions if isinstance(a, BookSeries)})
    return booked, result


def as_bookings(booked: dict[str, BookedSeries], at: datetime) -> dict[str, Booking]:
    return {key: Booking(series, at) for key, series in booked.items()}


def out_of_hours(cfg, series: BookedSeries) -> list[tuple[str, datetime]]:
    """(person, start) for every occurrence some attendee would attend outside their working hours."""
    found = []
    for occurrence in series.occurrences():
        for attendee in series.spec.everyone():
            person = cfg.person(attendee.person_id)
            start, end = occurrence.start.astimezone(person.zone), occurrence.end.astimezone(person.zone)
            if (start.weekday() not in person.days or start.time() < person.hours.start
                    or end.time() > person.hours.end or end.date() != start.date()):
                found.append((person.id, occurrence.start))
    return found


def start_of(cfg) -> datetime:
    return datetime.combine(cfg.program.starts, time(0), cfg.program.zone) - timedelta(days=3)


# New York works 08:00-16:00; the London colleague works afternoons, 13:00-20:00. The US changes its
# clocks on 14 March, London only on 28 March: for two weeks New York is four hours behind, not five.
TRANSATLANTIC = [("nora", "America/New_York", "08:00-16:00"), ("liam", "Europe/London", "13:00-20:00")]


def test_a_series_is_placed_where_it_survives_both_dst_changes():
    cfg = program(TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    booked, _ = book(cfg, start_of(cfg))
    series = booked["group:t"]
    # 08:00 New York (13:00 London) would be the earliest slot in January, but 12:00 in London for two
    # weeks in March; judged over the year, a slot that never needs moving wins.
    assert series.spec.start.astimezone(series.spec.zone).time() != time(8)
    assert series.overrides == () and out_of_hours(cfg, series) == []


def test_an_occurrence_pushed_out_of_hours_by_dst_is_moved_and_only_that_one():
    # Liam can only do 13:00-14:00 London: 08:00-09:00 New York, or 09:00-10:00 while only the US is on DST.
    cfg = program([TRANSATLANTIC[0], ("liam", "Europe/London", "13:00-14:00"), ("x1", "UTC", "00:00-23:59"),
                   ("x2", "UTC", "00:00-23:59")], [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    booked, _ = book(cfg, start_of(cfg))
    series = booked["group:t"]
    assert series.spec.rrule() is not None and series.spec.zone == ZoneInfo("America/New_York")
    assert series.spec.start.astimezone(series.spec.zone).time() == time(8)
    assert out_of_hours(cfg, series) == []
    moved = [o for o in series.occurrences() if o.moved]
    # Both gaps: 14-27 March (the US changed first) and 31 October-6 November (Europe changed back first).
    in_gap = [o for o in series.occurrences() if date(2027, 3, 14) <= o.recurrence_id.date() < date(2027, 3, 28)
              or date(2027, 10, 31) <= o.recurrence_id.date() < date(2027, 11, 7)]
    assert len(in_gap) == 3 and moved == in_gap
    for occurrence in moved:  # moved within its own week, into London's hours
        assert occurrence.start.isocalendar()[:2] == occurrence.recurrence_id.isocalendar()[:2]
        assert occurrence.start.astimezone(ZoneInfo("Europe/London")).time() == time(13)


def test_a_busy_day_moves_that_occurrence_within_its_week_and_nothing_else():
    cfg = program(TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    group = booked["group:t"]
    target = group.occurrences()[10]
    busy = {"liam": [Interval(target.start, target.end)]}
    later = now + timedelta(weeks=4)
    after, result = book(cfg, later, busy, as_bookings(booked, now))
    updates = [a for a in result.actions if isinstance(a, BookSeries)]
    assert [a.series.spec.key for a in updates] == ["group:t"]
    repaired = after["group:t"]
    assert repaired.sequence == group.sequence + 1 and repaired.spec.uid == group.spec.uid
    before = {o.recurrence_id: o for o in group.occurrences()}
    changed = [(before[o.recurrence_id], o) for o in repaired.occurrences() if before[o.recurrence_id] != o]
    assert len(changed) == 1 and changed[0][0].recurrence_id == target.recurrence_id
    moved = changed[0][1]
    assert moved.start.isocalendar()[:2] == target.start.isocalendar()[:2]
    assert not Interval(moved.start, moved.end).overlaps(busy["liam"][0])
    assert out_of_hours(cfg, repaired) == []
    # Level-triggered: with the repair applied, the same input plans nothing.
    _, again = book(cfg, later, busy, as_bookings(after, later))
    assert again.actions == [] and again.conflicts == []


def test_someone_away_all_week_leaves_the_occurrence_in_place_and_reports_it():
    cfg = program(TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    target = booked["group:t"].occurrences()[10]
    monday = datetime.combine(target.start.date() - timedelta(days=target.start.weekday()), time(0), UTC)
    busy = {"liam": [Interval(monday - timedelta(days=1), monday + timedelta(days=8))]}
    after, result = book(cfg, now + timedelta(weeks=4), busy, as_bookings(booked, now))
    assert not [a for a in result.actions if isinstance(a, BookSeries) and a.series.spec.key == "group:t"]
    assert after["group:t"] == booked["group:t"]
    reported = [c for c in result.conflicts if c.series_key == "group:t"]
    assert [c.session_id for c in reported] == [target.session_id]
    assert reported[0].people == ("liam",) and "left in place" in reported[0].reason


def test_a_slot_freed_later_does_not_move_a_booked_series():
    cfg = program(TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    # Nora is busy all day every Monday and Tuesday at first, so the group lands later in the week...
    days = [Interval(datetime.combine(d, time(0), UTC), datetime.combine(d + timedelta(days=1), time(0), UTC))
            for d in (cfg.program.starts + timedelta(days=n) for n in range(0, 360)) if d.weekday() in (0, 1)]
    booked, _ = book(cfg, now, {"nora": days})
    assert booked["group:t"].spec.start.weekday() >= 2
    # ...then her calendar clears: nothing moves, because nothing stopped fitting.
    _, result = book(cfg, now + timedelta(weeks=2), {}, as_bookings(booked, now))
    assert result.actions == []


def night_or_out(cfg, series: BookedSeries) -> Counter:
    """Per person, how many occurrences they attend out of hours."""
    return Counter(person for person, _ in out_of_hours(cfg, series))


def test_an_unavoidable_burden_takes_turns():
    # Chicago, Berlin and Tokyo (the example's coaches): no common hour; Chicago or Tokyo takes the odd call.
    cfg = program([("maria", "America/Chicago", "08:30-17:00"), ("lena", "Europe/Berlin", "08:00-16:30"),
                   ("kenji", "Asia/Tokyo", "09:00-18:00"), ("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "lena", ["maria", "kenji"]), ("u", "x1", ["x2"])])
    booked, _ = book(cfg, start_of(cfg))
    series = booked["group:t"]
    carried = night_or_out(cfg, series)
    assert len(carried) >= 2, carried  # not always the same person
    assert max(carried.values()) <= 0.6 * sum(carried.values()), carried
    # Still one recurring series, the turns being overrides of single occurrences.
    assert series.spec.rrule() is not None and series.overrides


def test_san_francisco_london_sydney_share_the_night():
    # London's day touches neither of the others': London is out of hours every week, but need not
    # always be at 22:00; an evening for London and an early start for Sydney strain people no more.
    cfg = program([("sam", "America/Los_Angeles", "09:00-17:00"), ("lucy", "Europe/London", "09:00-17:00"),
                   ("sid", "Australia/Sydney", "09:00-17:00"), ("x1", "UTC", "00:00-23:59"),
                   ("x2", "UTC", "00:00-23:59")], [("t", "lucy", ["sam", "sid"]), ("u", "x1", ["x2"])])
    booked, _ = book(cfg, start_of(cfg))
    series = booked["group:t"]
    people_out = Counter(frozenset(p for p, s in out_of_hours(cfg, series) if s == o.start)
                         for o in series.occurrences())
    assert len(people_out) >= 2, people_out
    late_for_lucy = sum(1 for o in series.occurrences()
                        if o.start.astimezone(ZoneInfo("Europe/London")).hour >= 21)
    assert late_for_lucy <= 0.6 * len(series.occurrences())


def test_individual_sessions_spread_and_respect_the_daily_limit_and_buffer_all_year():
    members = [f"c{n}" for n in range(8)]
    cfg = program([("coach", "Europe/Berlin", "09:00-17:00")] + [(m, "Europe/Paris", "09:00-17:00") for m in members],
                  [("t", "coach", members[:4]), ("u", "coach", members[4:])], per_day=2)
    booked, _ = book(cfg, start_of(cfg))
    sessions = sorted((o.start, o.end, s.spec.key) for s in booked.values() for o in s.occurrences()
                      if "coach" in {a.person_id for a in s.spec.everyone()})
    for (s1, e1, k1), (s2, e2, k2) in zip(sessions, sessions[1:]):
        assert e1 + cfg.scheduling.buffer <= s2, f"{k1} {s1} and {k2} {s2} leave no buffer"
    per_day = Counter(s.astimezone(ZoneInfo("Europe/Berlin")).date() for s, _, k in sessions
                      if k.startswith("individual:"))
    assert max(per_day.values()) <= 2
    weekdays = {booked[f"individual:{m}"].spec.start.weekday() for m in members}
    assert len(weekdays) >= 3, "one-to-ones spread over the coach's week"


def test_a_team_added_mid_program_is_booked_from_the_current_week():
    people = TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59"),
                              ("y1", "Europe/Paris", "09:00-17:00"), ("y2", "Europe/Paris", "09:00-17:00")]
    cfg = program(people, [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    grown = program(people, [("t", "nora", ["liam"]), ("u", "x1", ["x2"]), ("v", "y1", ["y2"])])
    later = now + timedelta(weeks=20)
    after, result = book(grown, later, {}, as_bookings(booked, now))
    new = {a.series.spec.key for a in result.actions if isinstance(a, BookSeries)}
    assert {"group:v", "individual:y2", "kickoff:v", "wrapup:v"} <= new
    first = after["group:v"].occurrences()[0].start
    assert later + grown.scheduling.notice <= first < later + timedelta(weeks=2)
    assert out_of_hours(grown, after["group:v"]) == []


def two_teams():
    people = TRANSATLANTIC + [("x1", "Europe/Paris", "09:00-17:00"), ("x2", "Europe/Paris", "09:00-17:00"),
                              ("x3", "Europe/Paris", "09:00-17:00")]
    return people, [("t", "nora", ["liam"]), ("u", "x1", ["x2", "x3"])]


def booked_two_teams():
    """The two-team program, booked from before its start: (people, teams, cfg, now, booked)."""
    people, teams = two_teams()
    cfg = program(people, teams)
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    return people, teams, cfg, now, booked


def test_dropping_a_team_ends_its_series_keeping_the_past_and_holds_a_big_pass():
    people, teams, cfg, now, booked = booked_two_teams()
    smaller = program(people, teams[:1])
    later = now + timedelta(weeks=10)
    _, result = book(smaller, later, {}, as_bookings(booked, now))
    # Dozens of future sessions at once: held, nothing cancelled, the admin told how to confirm.
    assert [a for a in result.actions if isinstance(a, BookSeries)] == []
    [hold] = result.held
    # One coach left: the coaches' circle goes too.
    dropped = {"group:u", "individual:x2", "individual:x3", "wrapup:u", "circle"}
    assert {key for key, _ in hold.series} == dropped
    assert hold.occurrences > smaller.scheduling.max_cancellations and hold.id in hold.describe()
    # Confirmed: each series ends now; what was held stays in the calendar.
    observed = Observed(bookings=as_bookings(booked, now), confirmed=frozenset({hold.id}))
    confirmed = plan(smaller, observed, later, session_mail=False, program_mail=False)
    ended = {a.series.spec.key: a.series for a in confirmed.actions if isinstance(a, BookSeries)}
    assert set(ended) == dropped and confirmed.held == []
    group = ended["group:u"]
    assert group.spec.ended and not group.cancelled and group.sequence == 1
    assert group.occurrences() and all(o.start < later for o in group.occurrences())
    assert booked["group:u"].occurrences()[:len(group.occurrences())] == group.occurrences()
    assert ended["wrapup:u"].cancelled  # nothing of it had happened yet
    # Applied, the same input plans nothing more.
    after = {**booked, **ended}
    again = plan(smaller, Observed(bookings=as_bookings(after, later), confirmed=frozenset({hold.id})), later,
                 session_mail=False, program_mail=False)
    assert again.actions == [] and again.held == []


def test_a_small_removal_is_applied_without_waiting_and_the_person_told():
    people, teams, cfg, now, booked = booked_two_teams()
    later = now + timedelta(weeks=47)  # late in the year: few sessions left to cancel
    without_x3 = program(people, [teams[0], ("u", "x1", ["x2"])])
    result = plan(without_x3, Observed(bookings=as_bookings(booked, now)), later, program_mail=False)
    books = {a.series.spec.key: a.series for a in result.actions if isinstance(a, BookSeries)}
    assert books["individual:x3"].spec.ended and result.held == []
    group = books["group:u"]
    assert [a.person_id for a in group.spec.former] == ["x3"]
    assert "x3" not in {a.person_id for a in group.spec.everyone()}
    mails = {(a.kind, a.recipient.person_id, a.subject_ref) for a in result.actions if not isinstance(a, BookSeries)}
    assert ("cancellation", "x3", f"{group.spec.uid}/left") in mails
    assert ("update", "x2", f"{group.spec.uid}/seq1") in mails


def test_listing_people_in_another_order_changes_nothing():
    people, teams, cfg, now, booked = booked_two_teams()
    reordered = program(list(reversed(people)), [teams[0], ("u", "x1", ["x3", "x2"])])
    result = plan(reordered, Observed(bookings=as_bookings(booked, now)), now + timedelta(days=1),
                  session_mail=False, program_mail=False)
    assert result.actions == []


def test_a_coachee_under_stress_gets_weekly_check_ins_between_one_to_ones_until_the_state_changes():
    people, teams, cfg, now, booked = booked_two_teams()
    later = now + timedelta(weeks=6)
    observed = Observed(bookings=as_bookings(booked, now), states={"x2": "stress", "x3": "momentum"})
    result = plan(cfg, observed, later, program_mail=False)
    new = {a.series.spec.key: a.series for a in result.actions if isinstance(a, BookSeries)}
    # Stress (1w) is more often than the one-to-ones (2w): check-ins; momentum (4w) is not: none.
    assert set(new) == {"check_in:x2:1w"}
    check_ins = new["check_in:x2:1w"]
    assert check_ins.spec.length == timedelta(minutes=15) and check_ins.spec.host.person_id == "x1"
    one_to_one_weeks = {o.start.isocalendar()[:2] for o in booked["individual:x2"].occurrences()}
    weeks = [o.start.isocalendar()[:2] for o in check_ins.occurrences()]
    assert weeks and not set(weeks) & one_to_one_weeks, "no check-in in a week with a one-to-one"
    # Together they make weekly contact from the first check-in on.
    first = check_ins.occurrences()[0].start
    contact = set(weeks) | {o.start.isocalendar()[:2] for o in booked["individual:x2"].occurrences()
                            if o.start >= first}
    span_weeks = {(first + timedelta(weeks=n)).isocalendar()[:2] for n in range(20)}
    assert len(span_weeks - contact) <= 1, sorted(span_weeks - contact)
    assert all(o.start >= later + cfg.scheduling.notice for o in check_ins.occurrences())
    mails = [a for a in result.actions if not isinstance(a, BookSeries) and a.series_key == "check_in:x2:1w"]
    assert {a.kind for a in mails} >= {"invitation"}
    # The coachee is steady again: the remaining check-ins end, without waiting for an admin.
    all_booked = {**booked, **new}
    steady = Observed(bookings=as_bookings(all_booked, later), states={"x2": "steady"})
    then = later + timedelta(weeks=3)
    ending = plan(cfg, steady, then, session_mail=False, program_mail=False)
    ended = [a.series for a in ending.actions if isinstance(a, BookSeries)]
    assert [s.spec.key for s in ended] == ["check_in:x2:1w"] and ended[0].spec.ended and ending.held == []


def test_a_conflict_is_not_traded_for_everyone_out_of_hours():
    cfg = program(TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    target = booked["group:t"].occurrences()[10]
    london = ZoneInfo("Europe/London")
    monday = target.start.astimezone(london).date() - timedelta(days=target.start.astimezone(london).weekday())
    # Liam is busy for all his working hours that week; he is free only in the evenings and at night.
    busy = {"liam": [Interval(datetime.combine(monday + timedelta(days=n), time(13), london),
                              datetime.combine(monday + timedelta(days=n), time(20), london)) for n in range(5)]}
    after, result = book(cfg, now + timedelta(weeks=4), busy, as_bookings(booked, now))
    assert after["group:t"] == booked["group:t"]
    assert [c.session_id for c in result.conflicts if c.series_key == "group:t"] == [target.session_id]


def test_a_session_on_a_blackout_day_is_made_up_that_week_or_skipped_when_configured_so():
    cfg = program(TRANSATLANTIC + [("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    group = booked["group:t"]
    holiday = group.occurrences()[5].start.date()  # within the weeks each tick looks ahead
    closed = cfg.model_copy(update={"program": cfg.program.model_copy(update={"blackout": [holiday]})})
    # The holiday is added to a running program: that one occurrence moves to another day of its week.
    later = now + timedelta(weeks=2)
    after, result = book(closed, later, {}, as_bookings(booked, now))
    updated = after["group:t"]
    assert updated.sequence == group.sequence + 1
    changed = [(a, b) for a, b in zip(group.occurrences(), updated.occurrences()) if a != b]
    assert len(changed) == 1
    made_up = changed[0][1]
    assert made_up.start.date() != holiday and made_up.recurrence_id.date() == holiday
    assert made_up.start.isocalendar()[:2] == made_up.recurrence_id.isocalendar()[:2]
    assert out_of_hours(closed, updated) == []
    _, again = book(closed, later, {}, as_bookings(after, later))
    assert again.actions == []
    # Configured not to make up: the occurrence is excluded (EXDATE) instead.
    skip = closed.model_copy(update={"scheduling": closed.scheduling.model_copy(update={"make_up_blackouts": False})})
    skipped, _ = book(skip, later, {}, as_bookings(booked, now))
    assert [d.date() for d in skipped["group:t"].spec.exdates] == [holiday]
    assert all(o.start.date() != holiday for o in skipped["group:t"].occurrences())
    # The holiday is dropped again: the excluded occurrence comes back where it was.
    _, reopened = book(cfg, later, {}, as_bookings(skipped, later))
    back = [a.series for a in reopened.actions if isinstance(a, BookSeries) and a.series.spec.key == "group:t"]
    assert back and back[0].spec.exdates == () and back[0].occurrences() == group.occurrences()


def test_a_new_coach_takes_over_the_future_sessions_and_the_past_stays_with_the_old():
    people = TRANSATLANTIC + [("olga", "Europe/Berlin", "09:00-17:00"), ("x1", "UTC", "00:00-23:59"),
                              ("x2", "UTC", "00:00-23:59")]
    cfg = program(people, [("t", "nora", ["liam"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    handed_over = program(people, [("t", "olga", ["liam"]), ("u", "x1", ["x2"])])
    later = now + timedelta(weeks=10)
    result = plan(handed_over, Observed(bookings=as_bookings(booked, now)), later, program_mail=False)
    books = [a.series for a in result.actions if isinstance(a, BookSeries)]
    by_key = {s.spec.key: s for s in books}
    old, new = by_key[next(k for k in by_key if k.startswith("group:t~"))], by_key["group:t"]
    # The old series ends, its past untouched, with Nora; the new one is Olga's, under a new UID.
    assert old.spec.ended and old.spec.uid == booked["group:t"].spec.uid and old.spec.host.person_id == "nora"
    assert old.occurrences() == [o for o in booked["group:t"].occurrences() if o.start < later]
    assert new.spec.host.person_id == "olga" and new.spec.uid != old.spec.uid and new.sequence == 0
    assert new.occurrences()[0].start >= later + handed_over.scheduling.notice
    assert out_of_hours(handed_over, new) == []
    assert result.held == []  # a hand-over is not a cancellation to hold
    # The old series gives up its key before the new one takes it: the order the executor applies.
    keys = [s.spec.key for s in books]
    assert keys.index(old.spec.key) < keys.index("group:t")
    mails = {(a.kind, a.recipient.person_id) for a in result.actions
             if not isinstance(a, BookSeries) and a.series_key in ("group:t", old.spec.key)}
    assert {("cancellation", "liam"), ("invitation", "liam"), ("invitation", "olga")} <= mails
    # Applied, nothing more happens.
    after = {**booked, **by_key}  # the archived series under their new keys, the new ones under the old
    again = plan(handed_over, Observed(bookings=as_bookings(after, later)), later,
                 session_mail=False, program_mail=False)
    assert again.actions == []


def test_check_ins_come_back_when_the_coachee_is_under_stress_again():
    people, teams, cfg, now, booked = booked_two_teams()
    stress = timedelta(weeks=6)
    first = plan(cfg, Observed(bookings=as_bookings(booked, now), states={"x2": "stress"}), now + stress,
                 session_mail=False, program_mail=False)
    booked |= {a.series.spec.key: a.series for a in first.actions if isinstance(a, BookSeries)}
    calm = plan(cfg, Observed(bookings=as_bookings(booked, now), states={"x2": "steady"}), now + 2 * stress,
                session_mail=False, program_mail=False)
    booked |= {a.series.spec.key: a.series for a in calm.actions if isinstance(a, BookSeries)}
    assert booked["check_in:x2:1w"].spec.ended
    again = plan(cfg, Observed(bookings=as_bookings(booked, now), states={"x2": "stress"}), now + 3 * stress,
                 session_mail=False, program_mail=False)
    books = {a.series.spec.key: a for a in again.actions if isinstance(a, BookSeries)}
    old = next(a for k, a in books.items() if k.startswith("check_in:x2:1w~"))
    new = books["check_in:x2:1w"].series
    assert old.series.sequence == booked["check_in:x2:1w"].sequence  # filed away, not re-announced
    assert new.sequence == 0 and new.spec.uid != old.series.spec.uid
    assert new.occurrences()[0].start >= now + 3 * stress
    # Applied, the same input plans nothing more.
    after = {**booked, **{k: a.series for k, a in books.items()}}
    assert plan(cfg, Observed(bookings=as_bookings(after, now), states={"x2": "stress"}), now + 3 * stress,
                session_mail=False, program_mail=False).actions == []


def test_a_series_cancelled_by_hand_stays_cancelled():
    people, teams, cfg, now, booked = booked_two_teams()
    booked["group:t"] = booked["group:t"].bumped(cancelled=True)  # as adopted from the calendar
    result = plan(cfg, Observed(bookings=as_bookings(booked, now)), now + timedelta(weeks=3),
                  session_mail=False, program_mail=False)
    assert not [a for a in result.actions if isinstance(a, BookSeries) and "group:t" in a.series.spec.key]


def test_moved_one_to_ones_still_respect_the_coachs_daily_limit():
    members = [f"c{n}" for n in range(8)]
    cfg = program([("coach", "Europe/Berlin", "09:00-17:00")] + [(m, "Europe/Paris", "09:00-17:00") for m in members],
                  [("t", "coach", members[:4]), ("u", "coach", members[4:])], per_day=2)
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    # Several coachees are away on the day of their one-to-one in the coming weeks: each must move.
    busy = {}
    for m in members:
        for occurrence in booked[f"individual:{m}"].occurrences()[1:3]:
            day = occurrence.start.date()
            busy[m] = busy.get(m, []) + [Interval(datetime.combine(day, time(0), UTC),
                                                  datetime.combine(day + timedelta(days=1), time(0), UTC))]
    after, result = book(cfg, now + timedelta(days=1), busy, as_bookings(booked, now))
    moved = sum(1 for m in members for a, b in zip(booked[f"individual:{m}"].occurrences(),
                                                    after[f"individual:{m}"].occurrences()) if a != b)
    assert moved >= 8
    per_day = Counter(o.start.astimezone(ZoneInfo("Europe/Berlin")).date()
                      for m in members for o in after[f"individual:{m}"].occurrences())
    assert max(per_day.values()) <= 2, per_day.most_common(3)
