"""Config value types: durations, working hours, days, time zones, ids."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from coachd.config.values import (
    check_slug,
    check_zone,
    format_days,
    format_duration,
    parse_days,
    parse_duration,
    parse_hours,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", timedelta(minutes=1)),
        ("30m", timedelta(minutes=30)),
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("4w", timedelta(weeks=4)),
        ("13w", timedelta(weeks=13)),
        (" 15m ", timedelta(minutes=15)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5", "5x", "-1h", "1.5h", "h", "", "1 h", "1H", "1hour", "1h30m"])
def test_malformed_durations_name_the_expected_form(text):
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert str(error.value) == f"expected a duration like 30m, 2h, 3d or 4w, got {text!r}"


@pytest.mark.parametrize("value", [5, None, 1.5, ["1h"], True])
def test_non_text_durations_are_rejected(value):
    with pytest.raises(ValueError, match="expected a duration like 30m, 2h, 3d or 4w"):
        parse_duration(value)


def test_zero_duration_only_where_allowed():
    with pytest.raises(ValueError) as error:
        parse_duration("0m")
    assert str(error.value) == "expected a positive duration like 30m, 2h, 3d or 4w, got '0m'"
    assert parse_duration("0m", allow_zero=True) == timedelta(0)
    assert parse_duration("0w", allow_zero=True) == timedelta(0)


def test_durations_format_back_to_the_shortest_spelling():
    for text in ["1m", "45m", "90m", "1h", "36h", "3d", "1w", "13w"]:
        assert format_duration(parse_duration(text)) == text
    assert format_duration(timedelta(minutes=60)) == "1h"
    assert format_duration(timedelta(days=14)) == "2w"
    assert format_duration(timedelta(0)) == "0m"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("09:00-17:00", time(9), time(17)),
        ("08:30-17:00", time(8, 30), time(17)),
        ("9:00-17:30", time(9), time(17, 30)),
        ("00:00-23:59", time(0), time(23, 59)),
        ("07:00 - 15:00", time(7), time(15)),
    ],
)
def test_working_hours(text, start, end):
    hours = parse_hours(text)
    assert (hours.start, hours.end) == (start, end)


def test_working_hours_print_as_written():
    assert str(parse_hours("9:05-17:00")) == "09:05-17:00"
    assert parse_hours("08:30-17:00").length == timedelta(hours=8, minutes=30)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9-5", "expected working hours like 09:00-17:00, got '9-5'"),
        ("09:00", "expected working hours like 09:00-17:00, got '09:00'"),
        ("0900-1700", "expected working hours like 09:00-17:00, got '0900-1700'"),
        (540, "expected working hours like 09:00-17:00, got 540"),
        ("17:00-09:00", "working hours must end after they start, got '17:00-09:00'"),
        ("09:00-09:00", "working hours must end after they start, got '09:00-09:00'"),
        ("08:00-24:00", "'24:00' is not a clock time (00:00 to 23:59), in '08:00-24:00'"),
        ("09:60-17:00", "'09:60' is not a clock time (00:00 to 23:59), in '09:60-17:00'"),
    ],
)
def test_bad_working_hours(text, message):
    with pytest.raises(ValueError) as error:
        parse_hours(text)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("value", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("sun-thu", {6, 0, 1, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),
        ("sat-sun", {5, 6}),
        ("wed-wed", {2}),
        ("tue", {1}),
        ("Mon-Fri", {0, 1, 2, 3, 4}),
        (["mon", "wed"], {0, 2}),
        (["monday", "Thursday", "thu"], {0, 3}),
        (["sun"], {6}),
    ],
)
def test_days(value, days):
    assert parse_days(value) == frozenset(days)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mon-fry", "unknown day 'fry' (expected mon, tue, wed, thu, fri, sat, sun)"),
        ("weekdays", "unknown day 'weekdays' (expected mon, tue, wed, thu, fri, sat, sun)"),
        (["mon", "funday"], "unknown day 'funday' (expected mon, tue, wed, thu, fri, sat, sun)"),
        ([1, 2], "unknown day 1 (expected mon, tue, wed, thu, fri, sat, sun)"),
        ([], "expected at least one day"),
        (5, "expected days like mon-fri or [mon, wed], got 5"),
    ],
)
def test_bad_days(value, message):
    with pytest.raises(ValueError) as error:
        parse_days(value)
    assert str(error.value) == message


def test_days_format_in_week_order():
    assert format_days(parse_days("sun-tue")) == ["mon", "tue", "sun"]


def test_known_zones_pass():
    for zone in ["America/Chicago", "Asia/Kolkata", "Australia/Sydney", "UTC", "Africa/Johannesburg"]:
        assert check_zone(zone) == zone


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Europe/Londn", "unknown time zone 'Europe/Londn' (did you mean 'Europe/London'?)"),
        ("europe/london", "unknown time zone 'europe/london' (did you mean 'Europe/London'?)"),
        ("AMERICA/CHICAGO", "unknown time zone 'AMERICA/CHICAGO' (did you mean 'America/Chicago'?)"),
        ("America/Sao Paulo", "unknown time zone 'America/Sao Paulo' (did you mean 'America/Sao_Paulo'?)"),
        ("Mars/Olympus_Mons_Base", "unknown time zone 'Mars/Olympus_Mons_Base'"),
        (5, "expected an IANA time zone name like 'Europe/London', got 5"),
    ],
)
def test_unknown_zones_get_suggestions(zone, message):
    with pytest.raises(ValueError) as error:
        check_zone(zone)
    assert str(error.value) == message


@pytest.mark.parametrize("slug", ["maria", "emea-2", "a", "0", "north_west", "x-"])
def test_ids(slug):
    assert check_slug(slug) == slug


@pytest.mark.parametrize("slug", ["Maria", "-x", "_x", "", "a b", "ana!", "é", 5])
def test_bad_ids(slug):
    with pytest.raises(ValueError, match="expected a lowercase id"):
        check_slug(slug)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("IST", "'IST': ambiguous abbreviation; India is Asia/Kolkata, Ireland Europe/Dublin, Israel Asia/Jerusalem"),
        ("PST", "'PST': ambiguous abbreviation; the US Pacific coast is America/Los_Angeles, the Philippines Asia/Manila"),
        ("JST", "'JST': an abbreviation, not a zone; Japan is Asia/Tokyo"),
        ("cest", "Germany is Europe/Berlin"),
        ("CET/CEST", "Germany is Europe/Berlin"),
        ("EST5EDT", "the US East coast is America/New_York"),
        ("AEST", "Sydney and Melbourne is Australia/Sydney, Queensland Australia/Brisbane"),
        ("BST", "the United Kingdom is Europe/London, Bangladesh Asia/Dhaka"),
        ("UTC+2", "a UTC offset, not a zone"),
        ("GMT-05:00", "a UTC offset, not a zone"),
        ("+0530", "a UTC offset, not a zone"),
    ],
)
def test_abbreviations_and_offsets_are_refused_with_the_zones_they_mean(zone, expected):
    with pytest.raises(ValueError) as error:
        check_zone(zone)
    assert expected in str(error.value)


@pytest.mark.parametrize("zone", ["EST", "MST", "HST", "CET", "EET", "WET", "MET", "EST5EDT", "CST6CDT"])
def test_legacy_tz_names_that_ignore_real_summer_times_are_refused_though_the_tz_database_has_them(zone):
    from zoneinfo import available_timezones

    assert zone in available_timezones()
    with pytest.raises(ValueError):
        check_zone(zone)


def test_utc_and_gmt_stay_valid():
    assert check_zone("UTC") == "UTC"
    assert check_zone("Etc/UTC") == "Etc/UTC"
    assert check_zone("GMT") == "GMT"
