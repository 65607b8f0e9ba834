"""coachd.mail.ical: the calendar objects coachd writes must mean exactly the occurrences it planned."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachd.model.types import UTC, Attendee, BookedSeries, Override, Role, SeriesSpec, SessionKind, to_utc
from coachd.mail.ical import (
    CalendarParseError,
    canonical_rrule,
    occurrence_calendar,
    parse_series_calendar,
    series_calendar,
)

CHICAGO = ZoneInfo("America/Chicago")
STAMP = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ORG = {"organizer_name": "Northwind Coaching Office", "organizer_email": "coaching@northwind.example"}

MARIA = Attendee("maria", "María José Castellanos-Müller", "Maria@Northwind.example", "America/Chicago", Role.COACH)
ANA = Attendee("ana", "Ana Souza", "ana@northwind.example", "America/Sao_Paulo", Role.COACHEE)
BEN = Attendee("ben", "Ben Carter, Jr.", "ben@northwind.example", "Europe/London", Role.COACHEE)


def group_series(**changes: object) -> BookedSeries:
    """The config example's weekly group: Chicago, 2027-01-04 through 2027-12-17, across both DST changes."""
    spec = SeriesSpec(
        key="series:northwind-2027/group/americas",
        uid="northwind-2027-group-americas@coachd.example",
        kind=SessionKind.GROUP,
        title="Americas Enterprise — weekly group session",
        timezone="America/Chicago",
        start=datetime(2027, 1, 4, 10, 0, tzinfo=CHICAGO),
        length=timedelta(minutes=60),
        host=MARIA,
        attendees=(ANA, BEN, MARIA),
        every=timedelta(weeks=1),
        until=datetime(2027, 12, 17, 23, 59, tzinfo=CHICAGO),
        team_id="americas",
        description="Purpose, progress on goals, commitments, barriers. " * 4,
    )
    series_changes = {k: changes.pop(k) for k in ("sequence", "overrides", "cancelled") if k in changes}
    return BookedSeries(replace(spec, **changes), **series_changes)


def expand(data: bytes, spec: SeriesSpec) -> list[tuple[datetime, datetime]]:
    """What a calendar client shows: every non-cancelled occurrence, as UTC (start, end)."""
    cal = icalendar.Calendar.from_ical(data)
    lo = to_utc(spec.start) - timedelta(days=30)
    hi = to_utc(spec.until or spec.start) + timedelta(days=30)
    found = []
    for ev in recurring_ical_events.of(cal).between(lo, hi):
        if str(ev.get("STATUS", "")) == "CANCELLED":
            continue
        found.append((to_utc(ev["DTSTART"].dt), to_utc(ev["DTEND"].dt)))
    return sorted(found)


def planned(series: BookedSeries) -> list[tuple[datetime, datetime]]:
    return sorted((o.start, o.end) for o in series.occurrences() if not o.cancelled)


def events(data: bytes) -> list[icalendar.Event]:
    return icalendar.Calendar.from_ical(data).walk("VEVENT")


# --- wire format ------------------------------------------------------------------------------------


def test_lines_end_in_crlf_and_are_folded_at_75_octets_without_splitting_characters() -> None:
    data = series_calendar(group_series(), **ORG, dtstamp=STAMP)
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    lines = data.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines), "the long description must be folded"
    for line in lines:
        line.decode("utf-8")  # a fold inside a multi-byte character would fail here
    assert "María José Castellanos-Müller" in icalendar.Calendar.from_ical(data).to_ical().decode()


def test_calendar_carries_vtimezone_for_the_series_zone_and_no_method_by_default() -> None:
    cal = icalendar.Calendar.from_ical(series_calendar(group_series(), **ORG, dtstamp=STAMP))
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/Chicago"]
    assert "METHOD" not in cal
    master = cal.walk("VEVENT")[0]
    assert master["DTSTART"].params["TZID"] == "America/Chicago"
    assert master["DTSTART"].dt == datetime(2027, 1, 4, 10, 0, tzinfo=CHICAGO)
    assert str(master["UID"]) == "northwind-2027-group-americas@coachd.example"
    assert str(master["STATUS"]) == "CONFIRMED"


def test_same_input_gives_identical_bytes() -> None:
    first = series_calendar(group_series(sequence=3), **ORG, dtstamp=STAMP)
    assert series_calendar(group_series(sequence=3), **ORG, dtstamp=STAMP) == first
    assert series_calendar(group_series(sequence=4), **ORG, dtstamp=STAMP) != first


# --- meaning: expansion equals the plan -----------------------------------------------------------------


def test_weekly_series_across_dst_expands_to_the_planned_starts() -> None:
    series = group_series()
    got = expand(series_calendar(series, **ORG, dtstamp=STAMP), series.spec)
    assert got == planned(series)
    assert len(got) == 50
    # 10:00 Chicago is 16:00 UTC in winter and 15:00 UTC in summer: the wall time is kept.
    assert got[0][0] == datetime(2027, 1, 4, 16, 0, tzinfo=UTC)
    assert datetime(2027, 3, 15, 15, 0, tzinfo=UTC) in [s for s, _ in got]
    assert got[-1][0] == datetime(2027, 12, 13, 16, 0, tzinfo=UTC)


def test_exdates_moved_and_cancelled_occurrences_expand_to_the_plan() -> None:
    moved_rid = datetime(2027, 3, 15, 10, tzinfo=CHICAGO)  # first Monday after the spring change
    cancelled_rid = datetime(2027, 11, 8, 10, tzinfo=CHICAGO)
    series = group_series(
        exdates=(datetime(2027, 5, 31, 15, 0, tzinfo=UTC), datetime(2027, 7, 5, 10, tzinfo=CHICAGO)),
        overrides=(
            Override(moved_rid, moved_rid + timedelta(days=1, hours=4), moved_rid + timedelta(days=1, hours=5)),
            Override(cancelled_rid, cancelled_rid, cancelled_rid + timedelta(hours=1), cancelled=True),
        ),
        sequence=2,
    )
    data = series_calendar(series, **ORG, dtstamp=STAMP)
    got = expand(data, series.spec)
    assert got == planned(series)
    starts = [s for s, _ in got]
    assert datetime(2027, 3, 16, 19, 0, tzinfo=UTC) in starts
    assert to_utc(moved_rid) not in starts
    assert to_utc(cancelled_rid) not in starts
    assert datetime(2027, 5, 31, 15, 0, tzinfo=UTC) not in starts
    assert len(got) == 47
    overrides = [ev for ev in events(data) if "RECURRENCE-ID" in ev]
    assert [ev["RECURRENCE-ID"].params["TZID"] for ev in overrides] == ["America/Chicago"] * 2
    assert [str(ev["STATUS"]) for ev in overrides] == ["CONFIRMED", "CANCELLED"]
    assert {int(ev["SEQUENCE"]) for ev in events(data)} == {2}


def test_biweekly_series_and_single_event() -> None:
    biweekly = group_series(every=timedelta(weeks=2))
    assert expand(series_calendar(biweekly, **ORG, dtstamp=STAMP), biweekly.spec) == planned(biweekly)
    assert len(planned(biweekly)) == 25
    single = group_series(every=None, until=None, kind=SessionKind.KICKOFF, length=timedelta(minutes=90))
    data = series_calendar(single, **ORG, dtstamp=STAMP)
    assert "RRULE" not in events(data)[0]
    kickoff = (datetime(2027, 1, 4, 16, tzinfo=UTC), datetime(2027, 1, 4, 17, 30, tzinfo=UTC))
    assert expand(data, single.spec) == [kickoff]


ZONES = ["America/Chicago", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata"]


@st.composite
def booked_series(draw: st.DrawFn) -> BookedSeries:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    day = draw(st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2028, 12, 1).date()))
    # Meeting hours only: wall times inside a DST gap are a separate question (RFC 5545 3.3.5).
    hour, minute = draw(st.integers(6, 20)), draw(st.sampled_from([0, 15, 30, 45]))
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    every = timedelta(weeks=draw(st.integers(1, 4)))
    count = draw(st.integers(1, 30))
    until = start + every * (count - 1) + timedelta(hours=draw(st.integers(0, 100)))
    spec = replace(group_series().spec, timezone=zone.key, start=start, every=every, until=until,
                   length=timedelta(minutes=draw(st.sampled_from([15, 30, 45, 60, 90]))))
    rids = spec.original_starts()
    chosen = draw(st.lists(st.sampled_from(range(len(rids))), unique=True, max_size=min(6, len(rids))))
    split = draw(st.integers(0, len(chosen)))
    exdates = tuple(rids[i] for i in chosen[:split])
    overrides = []
    for i in chosen[split:]:
        shift = timedelta(days=draw(st.integers(-3, 3)), minutes=15 * draw(st.integers(-20, 20)))
        overrides.append(Override(rids[i], rids[i] + shift, rids[i] + shift + spec.length, draw(st.booleans())))
    return BookedSeries(replace(spec, exdates=exdates), sequence=draw(st.integers(0, 5)), overrides=tuple(overrides))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(booked_series())
def test_any_series_expands_to_exactly_its_planned_occurrences(series: BookedSeries) -> None:
    data = series_calendar(series, **ORG, dtstamp=STAMP)
    assert expand(data, series.spec) == planned(series)
    parsed = parse_series_calendar(data)[0]
    assert parsed.exdates == tuple(sorted(to_utc(d) for d in series.spec.exdates))
    assert parsed.overrides == tuple(sorted(series.overrides, key=lambda o: o.recurrence_id))


# --- people and iTIP ------------------------------------------------------------------------------------


def test_organizer_and_every_attendee_once_with_cn_role_partstat_rsvp() -> None:
    master = events(series_calendar(group_series(), **ORG, dtstamp=STAMP))[0]
    organizer = master["ORGANIZER"]
    assert str(organizer) == "mailto:coaching@northwind.example"
    assert organizer.params["CN"] == "Northwind Coaching Office"
    attendees = {str(a): a.params for a in master["ATTENDEE"]}
    assert list(attendees) == [
        "mailto:Maria@Northwind.example", "mailto:ana@northwind.example", "mailto:ben@northwind.example"
    ]
    assert attendees["mailto:ben@northwind.example"]["CN"] == "Ben Carter, Jr."
    for address in ("mailto:ana@northwind.example", "mailto:ben@northwind.example"):
        assert attendees[address]["ROLE"] == "REQ-PARTICIPANT"
        assert attendees[address]["PARTSTAT"] == "NEEDS-ACTION"
        assert attendees[address]["RSVP"] == "TRUE"
    assert attendees["mailto:Maria@Northwind.example"]["PARTSTAT"] == "ACCEPTED"
    assert str(master["X-COACHD-KIND"]) == "group"
    assert str(master["X-COACHD-KEY"]) == "series:northwind-2027/group/americas"


def test_request_and_cancel_set_method_and_cancel_marks_every_event() -> None:
    rid = datetime(2027, 2, 1, 10, tzinfo=CHICAGO)
    series = group_series(overrides=(Override(rid, rid + timedelta(hours=2), rid + timedelta(hours=3)),), sequence=1)
    request = icalendar.Calendar.from_ical(series_calendar(series, **ORG, method="REQUEST", dtstamp=STAMP))
    assert str(request["METHOD"]) == "REQUEST"
    assert {str(ev["STATUS"]) for ev in request.walk("VEVENT")} == {"CONFIRMED"}
    cancel = icalendar.Calendar.from_ical(series_calendar(series.bumped(), **ORG, method="CANCEL", dtstamp=STAMP))
    assert str(cancel["METHOD"]) == "CANCEL"
    assert {str(ev["STATUS"]) for ev in cancel.walk("VEVENT")} == {"CANCELLED"}
    assert {int(ev["SEQUENCE"]) for ev in cancel.walk("VEVENT")} == {2}
    assert len(cancel.walk("VEVENT")[0]["ATTENDEE"]) == 3
    with pytest.raises(ValueError, match="PUBLISH"):
        series_calendar(series, **ORG, method="PUBLISH", dtstamp=STAMP)


def test_occurrence_calendar_moves_or_cancels_one_occurrence() -> None:
    rid = datetime(2027, 3, 15, 10, tzinfo=CHICAGO)
    moved = Override(rid, rid + timedelta(hours=3), rid + timedelta(hours=4))
    series = group_series(overrides=(moved,), sequence=1)
    request = icalendar.Calendar.from_ical(occurrence_calendar(series, to_utc(rid), "REQUEST", **ORG, dtstamp=STAMP))
    assert str(request["METHOD"]) == "REQUEST"
    (event,) = request.walk("VEVENT")
    assert event["RECURRENCE-ID"].dt == rid
    assert event["DTSTART"].dt == rid + timedelta(hours=3)
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "RRULE" not in event
    assert request.walk("VTIMEZONE")
    cancel = icalendar.Calendar.from_ical(occurrence_calendar(series, rid, "CANCEL", **ORG, dtstamp=STAMP))
    assert str(cancel.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
    with pytest.raises(ValueError, match="not an original start"):
        occurrence_calendar(series, rid + timedelta(hours=1), "CANCEL", **ORG, dtstamp=STAMP)
    with pytest.raises(ValueError, match="single event"):
        occurrence_calendar(group_series(every=None, until=None), rid, "CANCEL", **ORG, dtstamp=STAMP)


# --- reading back -----------------------------------------------------------------------------------------


def test_parse_reads_back_what_was_written() -> None:
    rid = datetime(2027, 4, 5, 10, tzinfo=CHICAGO)
    series = group_series(
        exdates=(datetime(2027, 5, 31, 10, tzinfo=CHICAGO),),
        overrides=(Override(rid, rid + timedelta(days=2), rid + timedelta(days=2, hours=1)),),
        sequence=7,
    )
    (parsed,) = parse_series_calendar(series_calendar(series, **ORG, dtstamp=STAMP))
    assert parsed.uid == series.spec.uid
    assert parsed.sequence == 7
    assert parsed.start == series.spec.start and parsed.timezone == "America/Chicago"
    assert parsed.end == series.spec.start + timedelta(hours=1)
    assert parsed.rrule == canonical_rrule(series.spec.rrule())
    assert parsed.exdates == (datetime(2027, 5, 31, 15, tzinfo=UTC),)
    two_days = to_utc(rid) + timedelta(days=2)
    assert parsed.overrides == (Override(to_utc(rid), two_days, two_days + timedelta(hours=1)),)
    assert parsed.attendees == {
        "maria@northwind.example": "ACCEPTED",
        "ana@northwind.example": "NEEDS-ACTION",
        "ben@northwind.example": "NEEDS-ACTION",
    }
    assert not parsed.cancelled
    assert (parsed.kind, parsed.key, parsed.organizer) == ("group", series.spec.key, "coaching@northwind.example")


def test_parse_notices_hand_edits() -> None:
    # Ana accepted in her client (a tool rewrote the file), then someone cancelled the series by hand.
    cal = icalendar.Calendar.from_ical(series_calendar(group_series(), **ORG, dtstamp=STAMP))
    (ana,) = [a for a in cal.walk("VEVENT")[0]["ATTENDEE"] if str(a) == "mailto:ana@northwind.example"]
    ana.params["PARTSTAT"] = "ACCEPTED"
    edited = cal.to_ical().decode().replace("STATUS:CONFIRMED", "STATUS:CANCELLED")
    assert "STATUS:CANCELLED" in edited
    (parsed,) = parse_series_calendar(edited.encode())
    assert parsed.cancelled
    assert parsed.attendees["ana@northwind.example"] == "ACCEPTED"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a calendar", "not an iCalendar"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:garbage\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "DTSTART"),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;VALUE=DATE:20270104\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "date",
        ),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nRECURRENCE-ID:20270104T100000Z\r\n"
            b"DTSTART:20270104T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "master",
        ),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20270104T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "UID"),
    ],
)
def test_parse_rejects_what_it_cannot_read_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(CalendarParseError, match=message):
        parse_series_calendar(data)


def test_canonical_rrule_ignores_part_order() -> None:
    assert canonical_rrule("FREQ=WEEKLY;INTERVAL=2;UNTIL=20271217T150000Z") == canonical_rrule(
        "UNTIL=20271217T150000Z;FREQ=WEEKLY;INTERVAL=2"
    )
