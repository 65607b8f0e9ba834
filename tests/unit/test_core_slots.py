"""Slot finding across zones: in everyone's hours and free first, else the least burden."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from coachd.plan.slots import Availability, find_slots, working_intervals
from coachd.model.types import UTC, Interval

WEEKDAYS = frozenset(range(5))


def person(pid: str, zone: str, start: str = "09:00", end: str = "17:00", busy=()) -> Availability:
    return Availability(pid, ZoneInfo(zone), (time.fromisoformat(start), time.fromisoformat(end)), WEEKDAYS,
                        tuple(busy))


WEEK = Interval(datetime(2027, 1, 11, tzinfo=UTC), datetime(2027, 1, 18, tzinfo=UTC))


def test_working_hours_are_local_to_each_person():
    spans = working_intervals(person("ben", "Europe/London", "08:00", "16:30"), WEEK)
    assert len(spans) == 5
    assert spans[0] == Interval(datetime(2027, 1, 11, 8, tzinfo=UTC), datetime(2027, 1, 11, 16, 30, tzinfo=UTC))


def test_common_slot_for_chicago_london_sao_paulo():
    people = [person("maria", "America/Chicago", "08:30", "17:00"), person("ben", "Europe/London", "08:00", "16:30"),
              person("ana", "America/Sao_Paulo", "09:00", "18:00")]
    best = find_slots(people, WEEK, timedelta(minutes=60), host_zone=ZoneInfo("America/Chicago"))[0]
    assert best.fits_everyone
    # The only common window is 14:30-16:30 UTC (08:30-10:30 Chicago).
    assert best.start == datetime(2027, 1, 11, 14, 30, tzinfo=UTC)


def test_busy_time_is_avoided():
    busy = [Interval(datetime(2027, 1, 11, 14, tzinfo=UTC), datetime(2027, 1, 11, 17, tzinfo=UTC))]
    people = [person("maria", "America/Chicago", "08:30", "17:00", busy), person("ben", "Europe/London", "08:00", "16:30")]
    best = find_slots(people, WEEK, timedelta(minutes=60), host_zone=ZoneInfo("America/Chicago"))[0]
    assert best.fits_everyone and best.start.date() == datetime(2027, 1, 12).date()


def test_no_common_hours_gives_least_burden_slot():
    people = [person("kenji", "Asia/Tokyo"), person("maria", "America/Chicago"), person("lena", "Europe/Berlin")]
    best = find_slots(people, WEEK, timedelta(minutes=45), host_zone=ZoneInfo("Asia/Tokyo"))[0]
    assert not best.fits_everyone
    # Three 8-hour days spread over 24 hours: at best the gap is split, never more than a full meeting each.
    assert 0 < best.burden_minutes <= 2 * 45


def test_blackout_day_is_skipped():
    people = [person("maria", "America/Chicago")]
    zone = ZoneInfo("America/Chicago")
    best = find_slots(people, WEEK, timedelta(minutes=30), host_zone=zone,
                      blackout={datetime(2027, 1, 11).date()}, blackout_zone=zone)[0]
    assert best.start.astimezone(zone).date() == datetime(2027, 1, 12).date()


def test_half_hour_zone_slots_start_on_the_hosts_quarter_hour():
    people = [person("priya", "Asia/Kolkata"), person("kenji", "Asia/Tokyo")]
    best = find_slots(people, WEEK, timedelta(minutes=30), host_zone=ZoneInfo("Asia/Kolkata"))[0]
    assert best.fits_everyone
    assert best.start.astimezone(ZoneInfo("Asia/Kolkata")).minute % 15 == 0
