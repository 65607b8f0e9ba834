"""Fair burden (issue 15): where nobody's hours meet, a series' occurrences take turns among those who can
carry the burden; where nobody can be freed from a conflict, the slot with the fewest people in conflict.

The rule under test: over any 8 consecutive occurrences, no one carries more than about half the
out-of-hours minutes while another slot that week, free for everyone, burdens someone else by a
comparable amount (within 30 minutes out of hours, or an hour more at night).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachd.model.types import UTC, BookedSeries, Interval
from coachd.plan.repair import COMPARABLE_BURDEN, COMPARABLE_NIGHT, FAIR_WINDOW, week_of
from coachd.plan.series import availability
from coachd.plan.slots import find_slots
from tests.unit.test_scheduling import as_bookings, book, program, start_of


def burden_by_occurrence(cfg, series: BookedSeries) -> list[dict[str, int]]:
    """Per occurrence (cancelled ones left out), each attendee's minutes outside their working hours."""
    result = []
    for occurrence in series.occurrences():
        if occurrence.cancelled:
            continue
        minutes = {}
        for attendee in series.spec.everyone():
            person = cfg.person(attendee.person_id)
            inside = timedelta(0)
            day = occurrence.start.astimezone(person.zone).date() - timedelta(days=1)
            while day <= occurrence.end.astimezone(person.zone).date():
                if day.weekday() in person.days:
                    start = datetime.combine(day, person.hours.start, person.zone)
                    end = datetime.combine(day, person.hours.end, person.zone)
                    overlap = min(end, occurrence.end) - max(start, occurrence.start)
                    inside += max(overlap, timedelta(0))
                day += timedelta(days=1)
            outside = int((occurrence.end - occurrence.start - inside).total_seconds() // 60)
            if outside:
                minutes[person.id] = outside
        result.append(minutes)
    return result


def totals(per_occurrence: list[dict[str, int]]) -> dict[str, int]:
    result: dict[str, int] = {}
    for minutes in per_occurrence:
        for person, value in minutes.items():
            result[person] = result.get(person, 0) + value
    return result


def heaviest_shares(per_occurrence: list[dict[str, int]], slack: int) -> list[tuple[int, str, int, int]]:
    """(first index, person, their minutes, all minutes) of every 8-occurrence window in which someone
    carries more than half the out-of-hours minutes plus `slack` (one occurrence's worth of rounding)."""
    found = []
    for first in range(max(1, len(per_occurrence) - FAIR_WINDOW + 1)):
        window = totals(per_occurrence[first:first + FAIR_WINDOW])
        everyone = sum(window.values())
        for person, minutes in window.items():
            if minutes > everyone / 2 + slack:
                found.append((first, person, minutes, everyone))
    return found


def test_a_team_split_by_the_southern_hemisphere_dst_change_takes_turns():
    # Los Angeles 08:00-16:00 and Sydney 09:00-17:00 overlap by an hour until Sydney's clocks go back on
    # 4 April 2027; from then until October nobody's hours meet: Los Angeles stays late or Sydney starts
    # early, an hour each, and the two must take turns rather than one carrying it all year.
    cfg = program([("lou", "America/Los_Angeles", "08:00-16:00"), ("syd", "Australia/Sydney", "09:00-17:00"),
                   ("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "lou", ["syd"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    per_occurrence = burden_by_occurrence(cfg, booked["group:t"])
    carried = totals(per_occurrence)
    assert set(carried) == {"lou", "syd"}, carried
    assert abs(carried["lou"] - carried["syd"]) <= 60, carried
    assert heaviest_shares(per_occurrence, slack=60) == []
    # Still one recurring series, and the turns stay put: later ticks, over any stretch, move nothing.
    assert booked["group:t"].spec.rrule() is not None
    for weeks in (1, 15, 30):
        _, again = book(cfg, now + timedelta(weeks=weeks), None, as_bookings(booked, now))
        assert again.actions == [], weeks


def test_a_circle_on_three_continents_with_no_common_hour_shares_its_burden():
    # Chicago, Johannesburg and Singapore, 09:00-17:00 each: no hour is in all three working days, and
    # an evening in Chicago is no lighter than an early start in Singapore or a late one in Johannesburg.
    cfg = program([("maria", "America/Chicago", "09:00-17:00"), ("thandi", "Africa/Johannesburg", "09:00-17:00"),
                   ("mei", "Asia/Singapore", "09:00-17:00"), ("a1", "UTC", "00:00-23:59"),
                   ("a2", "UTC", "00:00-23:59"), ("a3", "UTC", "00:00-23:59")],
                  [("t", "maria", ["a1"]), ("u", "thandi", ["a2"]), ("v", "mei", ["a3"])])
    booked, _ = book(cfg, start_of(cfg))
    circle = booked["circle"]
    per_occurrence = burden_by_occurrence(cfg, circle)
    carried = totals(per_occurrence)
    assert len(carried) >= 2, carried
    assert max(carried.values()) <= 0.5 * sum(carried.values()) + 45, carried
    assert heaviest_shares(per_occurrence, slack=45) == []


def test_a_week_with_one_member_away_moves_to_the_slot_only_they_miss_and_reports_them():
    # New York and London, three weeks apart on DST in March; in the gap week Eva (Berlin) is away all
    # week and Liam's standing meeting, fixed in London time, lands on the session's usual time.
    cfg = program([("nora", "America/New_York", "08:00-16:00"), ("liam", "Europe/London", "13:00-20:00"),
                   ("eva", "Europe/Berlin", "09:00-20:00"), ("x1", "UTC", "00:00-23:59"),
                   ("x2", "UTC", "00:00-23:59")], [("t", "nora", ["liam", "eva"]), ("u", "x1", ["x2"])])
    now = start_of(cfg)
    booked, _ = book(cfg, now)
    group = booked["group:t"]
    target = next(o for o in group.occurrences() if datetime(2027, 3, 15, tzinfo=UTC) <= o.start
                  < datetime(2027, 3, 27, tzinfo=UTC))
    week = week_of(target.recurrence_id, group.spec.zone)
    busy = {"eva": [Interval(week.start, week.end)],
            "liam": [Interval(target.start - timedelta(minutes=30), target.end + timedelta(minutes=30))]}
    later = now + timedelta(weeks=4)
    after, result = book(cfg, later, busy, as_bookings(booked, now))
    moved = {o.recurrence_id: o for o in after["group:t"].occurrences()}[target.recurrence_id]
    assert moved.start != target.start
    assert week.start <= moved.start and moved.end <= week.end
    assert not Interval(moved.start, moved.end).overlaps(busy["liam"][0])
    reported = [c for c in result.conflicts if c.series_key == "group:t"]
    assert [(c.session_id, c.people) for c in reported] == [(target.session_id, ("eva",))]
    # Only that occurrence moved, and with the move applied the same input plans nothing more.
    before = {o.recurrence_id: o for o in group.occurrences()}
    assert [o.recurrence_id for o in after["group:t"].occurrences() if before[o.recurrence_id] != o] == \
        [target.recurrence_id]
    _, again = book(cfg, later, busy, as_bookings(after, later))
    assert again.actions == []
    assert [(c.session_id, c.people) for c in again.conflicts if c.series_key == "group:t"] == \
        [(target.session_id, ("eva",))]


ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "America/Sao_Paulo", "Europe/London",
         "Europe/Berlin", "Africa/Nairobi", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
         "Pacific/Auckland"]


def _someone_else_could(cfg, series: BookedSeries, index: int, person: str) -> bool:
    """Whether occurrence `index` had a slot that week, in nobody's way, burdening others comparably."""
    occurrence = [o for o in series.occurrences() if not o.cancelled][index]
    week = week_of(occurrence.recurrence_id, series.spec.zone)
    people = [availability(cfg, a.person_id) for a in series.spec.everyone()]
    slots = find_slots(people, week, series.spec.length, host_zone=series.spec.zone, limit=400)
    if not slots:
        return False
    least = slots[0]
    return any(person not in s.out_of_hours and s.burden_minutes <= least.burden_minutes + COMPARABLE_BURDEN
               and s.unsocial_minutes <= least.unsocial_minutes + COMPARABLE_NIGHT for s in slots)


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(ZONES), min_size=3, max_size=3, unique=True))
def test_over_random_zones_no_one_carries_more_than_half_while_someone_else_could(zones):
    cfg = program([("p0", zones[0], "09:00-17:00"), ("p1", zones[1], "09:00-17:00"), ("p2", zones[2], "09:00-17:00"),
                   ("x1", "UTC", "00:00-23:59"), ("x2", "UTC", "00:00-23:59")],
                  [("t", "p0", ["p1", "p2"]), ("u", "x1", ["x2"])], starts="2027-01-04", ends="2027-06-25")
    booked, _ = book(cfg, start_of(cfg))
    series = booked["group:t"]
    per_occurrence = burden_by_occurrence(cfg, series)
    for first, person, _, _ in heaviest_shares(per_occurrence, slack=60):
        carried = [first + n for n, minutes in enumerate(per_occurrence[first:first + FAIR_WINDOW]) if person in minutes]
        assert not any(_someone_else_could(cfg, series, index, person) for index in carried), \
            (zones, first, person, per_occurrence[first:first + FAIR_WINDOW])
