"""coachd's series rules <-> Graph's patternedRecurrence: the same occurrences both ways, or a clear refusal.

Graph's side is expanded by pattern_dates (Exchange's reading of a pattern, no RRULE involved) and the
RRULE side by dateutil, so a mistake in the mapping cannot hide behind the same mistake in the check.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from coachd.mail.ical import canonical_rrule
from coachd.model.types import Attendee, Role, SeriesSpec, SessionKind, to_utc
from coachd.providers.microsoft.pattern_dates import occurrence_starts
from coachd.providers.microsoft.recurrence import (
    RuleNotExpressible,
    graph_to_cadence,
    graph_to_rrule,
    rrule_to_graph,
    series_to_graph,
)
from coachd.providers.microsoft.zones import ZoneNotExpressible, graph_zone

ZONES = ("America/Chicago", "America/New_York", "America/Sao_Paulo", "America/Los_Angeles", "Asia/Tokyo",
         "Asia/Kolkata", "Europe/London", "Europe/Berlin", "Europe/Dublin", "Australia/Sydney",
         "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Auckland", "UTC")
CAP = 520  # SeriesSpec's own cap on an open-ended series


def person(zone: str = "America/Chicago", pid: str = "maria") -> Attendee:
    return Attendee(pid, pid.title(), f"{pid}@northwind.example", zone, Role.COACH)


def spec(start: datetime, every_weeks: int | None, until: datetime | None = None,
         exdates: tuple[datetime, ...] = ()) -> SeriesSpec:
    zone = getattr(start.tzinfo, "key", "UTC")
    return SeriesSpec(key="group:americas", uid="uid-1@coachd", kind=SessionKind.GROUP, title="Group",
                      timezone=zone, start=start, length=timedelta(minutes=60), host=person(zone),
                      attendees=(person("Asia/Tokyo", "kenji"),),
                      every=None if every_weeks is None else timedelta(weeks=every_weeks), until=until,
                      exdates=exdates)


def dateutil_starts(rule: str, start: datetime, cap: int = CAP) -> list[datetime]:
    return [d.astimezone(UTC) for d in islice(rrulestr(rule, dtstart=start), cap)]


# --- every rule coachd produces -------------------------------------------------------------------

@st.composite
def coachd_series(draw: st.DrawFn) -> SeriesSpec:
    """A SeriesSpec as the planner makes them: weekly in the host's zone, ending at the program's last
    day 23:59:59 in the program's zone (maybe another zone), at an occurrence (ended early), or never."""
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    day = draw(st.dates(min_value=date(2017, 1, 1), max_value=date(2032, 12, 31)))
    at = time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 15, 30, 45))))
    start = datetime.combine(day, at, zone)
    every = draw(st.integers(1, 26))
    ending = draw(st.sampled_from(("program", "ended", "never")))
    until = None
    if ending == "program":
        program = ZoneInfo(draw(st.sampled_from(ZONES)))
        last_day = day + timedelta(days=draw(st.integers(0, 800)))
        until = datetime.combine(last_day, time(23, 59, 59), program).astimezone(UTC)
        if until < to_utc(start):
            until = None
    elif ending == "ended":
        until = to_utc(start) + timedelta(weeks=every * draw(st.integers(0, 60)))
    made = spec(start, every, until)
    originals = made.original_starts()
    exdates = tuple(draw(st.lists(st.sampled_from(originals), max_size=4, unique=True)))
    return spec(start, every, until, exdates)


@settings(max_examples=300, deadline=None)
@given(coachd_series())
def test_every_coachd_series_books_the_same_occurrences_in_graph(series: SeriesSpec) -> None:
    written = series_to_graph(series)
    recurrence = written.recurrence
    assert recurrence is not None
    start = series.start.astimezone(series.zone)
    # Graph's expansion of what we send: the very same original starts.
    assert occurrence_starts(recurrence, start) == series.original_starts()
    assert recurrence["range"]["startDate"] == start.date().isoformat()
    assert recurrence["range"]["recurrenceTimeZone"] == graph_zone(series.timezone)
    assert recurrence["pattern"] == {"type": "weekly", "interval": series.interval_weeks,
                                     "daysOfWeek": [start.strftime("%A").lower()], "firstDayOfWeek": "monday"}
    # Excluded dates come back to be cancelled; what remains is what coachd plans.
    remaining = [s for s in occurrence_starts(recurrence, start) if s not in written.cancel]
    assert remaining == [o.start for o in series.occurrences()]
    # Read back: the RRULE a person's unchanged event gives, and SeriesSpec's own terms.
    assert dateutil_starts(graph_to_rrule(recurrence, start), start) == series.original_starts()
    every, until = graph_to_cadence(recurrence, start)
    assert every == series.every
    assert until == (series.original_starts()[-1] if series.until is not None else None)


def test_an_until_at_the_end_of_a_local_day_reads_back_as_the_same_rrule() -> None:
    zone = ZoneInfo("America/Chicago")
    series = spec(datetime(2027, 1, 11, 10, 0, tzinfo=zone), 2,
                  datetime(2027, 12, 13, 23, 59, 59, tzinfo=zone).astimezone(UTC))
    recurrence = series_to_graph(series).recurrence
    assert recurrence is not None and recurrence["range"]["endDate"] == "2027-12-13"
    assert graph_to_rrule(recurrence, series.start) == canonical_rrule(series.rrule() or "")


def test_a_single_event_has_no_recurrence_but_its_zone_is_checked() -> None:
    assert series_to_graph(spec(datetime(2027, 1, 4, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), None)).recurrence is None
    with pytest.raises(ZoneNotExpressible, match="Antarctica/Troll"):
        series_to_graph(spec(datetime(2027, 1, 4, 9, 0, tzinfo=ZoneInfo("Antarctica/Troll")), 1))


# --- the end date, around midnight ----------------------------------------------------------------

def test_until_at_the_programs_last_day_in_another_zone_ends_on_the_hosts_date() -> None:
    # Host in Tokyo, Saturdays 09:00; the program (Chicago) ends Friday 2027-12-17 23:59:59 CST, which is
    # already Saturday 14:59 in Tokyo: that Saturday's 09:00 session is inside the program.
    tokyo = ZoneInfo("Asia/Tokyo")
    until = datetime(2027, 12, 17, 23, 59, 59, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
    recurrence = rrule_to_graph(f"FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ}",
                                datetime(2027, 1, 9, 9, 0, tzinfo=tokyo), "Asia/Tokyo")
    assert recurrence["range"]["endDate"] == "2027-12-18"


def test_until_on_the_next_utc_day_keeps_the_local_date() -> None:
    # Los Angeles, Fridays 17:00 PST = Saturday 01:00 UTC. UNTIL 2027-12-17 23:59:59 PST is 12-18 in UTC;
    # the end date is the local 12-17, not the UTC date.
    la = ZoneInfo("America/Los_Angeles")
    until = datetime(2027, 12, 17, 23, 59, 59, tzinfo=la).astimezone(UTC)
    assert until.date() == date(2027, 12, 18)
    recurrence = rrule_to_graph(f"FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ}",
                                datetime(2027, 1, 1, 17, 0, tzinfo=la), "America/Los_Angeles")
    assert recurrence["range"]["endDate"] == "2027-12-17"
    assert graph_to_rrule(recurrence, datetime(2027, 1, 1, 17, 0, tzinfo=la)) == \
        "FREQ=WEEKLY;UNTIL=20271218T075959Z"


def test_until_earlier_on_an_occurrence_day_excludes_that_day() -> None:
    chicago = ZoneInfo("America/Chicago")
    until = datetime(2027, 3, 1, 5, 0, tzinfo=chicago).astimezone(UTC)  # a Monday, before the 10:00 session
    recurrence = rrule_to_graph(f"FREQ=WEEKLY;UNTIL={until:%Y%m%dT%H%M%SZ}",
                                datetime(2027, 1, 4, 10, 0, tzinfo=chicago), "America/Chicago")
    assert recurrence["range"]["endDate"] == "2027-02-22"


def test_an_until_before_the_first_occurrence_is_refused() -> None:
    with pytest.raises(RuleNotExpressible, match="before the first occurrence"):
        rrule_to_graph("FREQ=WEEKLY;UNTIL=20270101T000000Z", datetime(2027, 1, 4, 10, 0, tzinfo=UTC), "UTC")


def test_a_series_across_sao_paulos_midnight_dst_start() -> None:
    # 2018-11-04 00:00 did not exist in Sao Paulo; a Sunday 00:30 series lands where SeriesSpec puts it.
    sp = ZoneInfo("America/Sao_Paulo")
    series = spec(datetime(2018, 10, 21, 0, 30, tzinfo=sp), 1,
                  datetime(2018, 11, 18, 23, 59, 59, tzinfo=sp).astimezone(UTC))
    recurrence = series_to_graph(series).recurrence
    assert recurrence is not None and recurrence["range"]["endDate"] == "2018-11-18"
    assert occurrence_starts(recurrence, series.start) == series.original_starts()
    assert len(series.original_starts()) == 5


# --- RRULEs beyond coachd's own: what maps, and what is refused ------------------------------------

@st.composite
def expressible_rules(draw: st.DrawFn) -> tuple[str, datetime, str]:
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    day = draw(st.dates(min_value=date(2017, 1, 1), max_value=date(2032, 12, 31)))
    start = datetime.combine(day, time(draw(st.integers(0, 23)), draw(st.sampled_from((0, 30)))), zone)
    interval = draw(st.integers(1, 5))
    code = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    kind = draw(st.sampled_from(("daily", "weekly", "weekdays", "monthday", "nth", "last", "yearly", "nth-yearly")))
    nth = (day.day - 1) // 7 + 1
    is_last = (day + timedelta(days=7)).month != day.month
    if kind == "daily":
        rule = f"FREQ=DAILY;INTERVAL={interval}"
    elif kind in ("weekly", "weekdays"):
        others = draw(st.lists(st.sampled_from(code), max_size=4))
        days = sorted({code[day.weekday()], *others}, key=code.index)
        wkst = draw(st.sampled_from(code))
        rule = f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={','.join(days)};WKST={wkst}"
    elif kind == "monthday" and day.day <= 28:
        rule = f"FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={day.day}"
    elif kind == "nth" and nth <= 4:
        rule = f"FREQ=MONTHLY;INTERVAL={interval};BYDAY={nth}{code[day.weekday()]}"
    elif kind == "last" and is_last:
        rule = f"FREQ=MONTHLY;INTERVAL={interval};BYDAY=-1{code[day.weekday()]}"
    elif kind == "yearly" and (day.month, day.day) != (2, 29):
        rule = f"FREQ=YEARLY;INTERVAL={interval}"
    elif kind == "nth-yearly" and nth <= 4:
        rule = f"FREQ=YEARLY;BYMONTH={day.month};BYDAY={nth}{code[day.weekday()]}"
    else:
        rule = "FREQ=WEEKLY"
    end = draw(st.sampled_from(("count", "until", "none")))
    if end == "count":
        rule += f";COUNT={draw(st.integers(1, 40))}"
    elif end == "until":
        until = to_utc(start) + timedelta(days=draw(st.integers(0, 900)), seconds=draw(st.integers(0, 86399)))
        rule += f";UNTIL={until:%Y%m%dT%H%M%SZ}"
    return rule, start, zone_name


@settings(max_examples=300, deadline=None)
@given(expressible_rules())
def test_expressible_rules_book_the_same_dates_both_ways(case: tuple[str, datetime, str]) -> None:
    rule, start, zone = case
    expected = dateutil_starts(rule, start, 200)
    recurrence = rrule_to_graph(rule, start, zone)
    assert occurrence_starts(recurrence, start, cap=200) == expected
    assert dateutil_starts(graph_to_rrule(recurrence, start), start, 200) == expected


def test_outlooks_first_weekday_of_the_month() -> None:
    start = datetime(2027, 2, 1, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Monday
    recurrence = rrule_to_graph("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1", start, "Europe/Berlin")
    assert recurrence["pattern"] == {"type": "relativeMonthly", "interval": 1, "index": "first",
                                     "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"]}
    assert occurrence_starts(recurrence, start, cap=12) == dateutil_starts(
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1", start, 12)


@pytest.mark.parametrize(("rule", "named"), [
    ("FREQ=HOURLY;INTERVAL=36", "more than once a day"),  # an every of 36 hours: not whole days
    ("FREQ=MINUTELY", "more than once a day"),
    ("FREQ=WEEKLY;BYHOUR=9,15", "several times a day"),
    ("FREQ=MONTHLY;BYMONTHDAY=4,18", "several days of the month"),
    ("FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=4", "several months"),
    ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1,3", "several positions"),
    ("FREQ=MONTHLY;BYDAY=1MO,3MO", "one position"),
    ("FREQ=MONTHLY;BYDAY=MO", "one position"),  # every Monday of the month
    ("FREQ=MONTHLY;BYDAY=5MO", "position 5"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", "from the month's end"),
    ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY"),
    ("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO"),
    ("FREQ=WEEKLY;BYDAY=1MO", "plain weekdays"),
    ("FREQ=WEEKLY;BYDAY=TU", "not on a day the rule repeats on"),
    ("FREQ=DAILY;INTERVAL=2;BYDAY=MO,WE", "Graph has no such pattern"),
    ("FREQ=WEEKLY;COUNT=3;UNTIL=20271231T000000Z", "COUNT and UNTIL"),
    ("FREQ=WEEKLY;RSCALE=HEBREW", "no counterpart"),
    ("INTERVAL=2", "no FREQ"),
])
def test_rules_graph_cannot_express_are_refused_by_name(rule: str, named: str) -> None:
    start = datetime(2027, 1, 4, 10, 0, tzinfo=ZoneInfo("America/Chicago"))  # Monday the 4th
    with pytest.raises(RuleNotExpressible, match=named):
        rrule_to_graph(rule, start, "America/Chicago")


def test_day_31_is_refused_because_outlook_moves_it_to_shorter_months_last_day() -> None:
    start = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)
    with pytest.raises(RuleNotExpressible, match="last day of shorter months"):
        rrule_to_graph("FREQ=MONTHLY;BYMONTHDAY=31", start, "UTC")
    with pytest.raises(RuleNotExpressible, match="February"):
        rrule_to_graph("FREQ=YEARLY", datetime(2028, 2, 29, 10, 0, tzinfo=UTC), "UTC")


def test_a_hand_edited_pattern_coachd_cannot_hold_is_named() -> None:
    start = datetime(2027, 1, 4, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    two_days = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"],
                            "firstDayOfWeek": "sunday"},
                "range": {"type": "noEnd", "startDate": "2027-01-04", "recurrenceTimeZone": "Central Standard Time"}}
    with pytest.raises(RuleNotExpressible, match="monday, thursday"):
        graph_to_cadence(two_days, start)
    # ... while the RRULE of it is still read, for the calendar entry.
    assert graph_to_rrule(two_days, start) == "FREQ=WEEKLY;BYDAY=MO,TH"


def test_a_numbered_range_reads_back_as_count_and_as_its_last_start() -> None:
    start = datetime(2027, 1, 4, 10, 0, tzinfo=ZoneInfo("America/Chicago"))
    numbered = {"pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
                "range": {"type": "numbered", "numberOfOccurrences": 3, "startDate": "2027-01-04",
                          "recurrenceTimeZone": "Central Standard Time"}}
    assert graph_to_rrule(numbered, start) == "FREQ=WEEKLY;COUNT=3;INTERVAL=2"
    assert graph_to_cadence(numbered, start) == (timedelta(weeks=2), datetime(2027, 2, 1, 16, 0, tzinfo=UTC))


def test_daily_on_some_weekdays_is_a_weekly_pattern() -> None:
    start = datetime(2027, 1, 4, 10, 0, tzinfo=ZoneInfo("America/Chicago"))  # a Monday
    recurrence = rrule_to_graph("FREQ=DAILY;BYDAY=MO,WE,FR;COUNT=9", start, "America/Chicago")
    assert recurrence["pattern"] == {"type": "weekly", "interval": 1, "firstDayOfWeek": "monday",
                                     "daysOfWeek": ["monday", "wednesday", "friday"]}
    assert occurrence_starts(recurrence, start) == dateutil_starts("FREQ=DAILY;BYDAY=MO,WE,FR;COUNT=9", start)


def test_a_start_read_back_in_utc_is_read_in_the_patterns_own_zone() -> None:
    # Mondays 08:00 in Tokyo are Sundays 23:00 in UTC: read with Prefer UTC, still a Monday series.
    tokyo = datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    recurrence = rrule_to_graph("FREQ=WEEKLY;INTERVAL=2;UNTIL=20270301T000000Z", tokyo, "Asia/Tokyo")
    in_utc = tokyo.astimezone(UTC)
    assert in_utc.weekday() == 6
    assert graph_to_rrule(recurrence, in_utc) == graph_to_rrule(recurrence, tokyo)
    assert "BYDAY" not in graph_to_rrule(recurrence, in_utc)
    assert graph_to_cadence(recurrence, in_utc) == (timedelta(weeks=2), datetime(2027, 2, 28, 23, 0, tzinfo=UTC))


def test_the_first_occurrence_goes_out_as_local_wall_time_in_the_series_zone() -> None:
    series = spec(datetime(2027, 3, 29, 10, 0, tzinfo=ZoneInfo("Europe/Dublin")), 1)  # after the clocks went forward
    written = series_to_graph(series)
    assert written.start == {"dateTime": "2027-03-29T10:00:00", "timeZone": "GMT Standard Time"}
    assert written.end == {"dateTime": "2027-03-29T11:00:00", "timeZone": "GMT Standard Time"}
