"""Series expansion in the series' own wall-clock time, session ids, aware datetimes only."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coachd.model.types import UTC, Attendee, Interval, Override, Role, SeriesSpec, SessionKind, split_session_id

CHICAGO = ZoneInfo("America/Chicago")
maria = Attendee("maria", "Maria Lopez", "maria@northwind.example", "America/Chicago", Role.COACH)
ana = Attendee("ana", "Ana Souza", "ana@northwind.example", "America/Sao_Paulo", Role.COACHEE)


def weekly(**changes) -> SeriesSpec:
    fields = dict(key="group:americas", uid="coachd-x-group-americas@northwind.example", kind=SessionKind.GROUP,
                  title="Americas", timezone="America/Chicago", start=datetime(2027, 3, 8, 10, 0, tzinfo=CHICAGO),
                  length=timedelta(minutes=60), host=maria, attendees=(ana,), every=timedelta(weeks=1),
                  until=datetime(2027, 3, 29, tzinfo=UTC))
    fields.update(changes)
    return SeriesSpec(**fields)


def test_weekly_series_keeps_local_time_across_us_dst_change():
    occurrences = weekly().occurrences()
    assert [o.start.astimezone(CHICAGO).hour for o in occurrences] == [10, 10, 10]
    # 10:00 CST is 16:00 UTC before 14 March 2027, 10:00 CDT is 15:00 UTC after.
    assert [o.start.hour for o in occurrences] == [16, 15, 15]
    assert weekly().rrule() == "FREQ=WEEKLY;INTERVAL=1;UNTIL=20270329T000000Z"


def test_exdates_and_overrides():
    spec = weekly(exdates=(datetime(2027, 3, 15, 15, 0, tzinfo=UTC),))
    moved = Override(datetime(2027, 3, 22, 15, 0, tzinfo=UTC), datetime(2027, 3, 23, 15, 0, tzinfo=UTC),
                     datetime(2027, 3, 23, 16, 0, tzinfo=UTC))
    occurrences = spec.occurrences((moved,))
    assert [o.start for o in occurrences] == [datetime(2027, 3, 8, 16, tzinfo=UTC), datetime(2027, 3, 23, 15, tzinfo=UTC)]
    assert occurrences[1].moved
    assert occurrences[1].session_id == "coachd-x-group-americas@northwind.example/20270322T150000Z"


def test_session_id_round_trip():
    uid, rid = split_session_id("coachd-x@northwind.example/20270111T150000Z")
    assert uid == "coachd-x@northwind.example" and rid == datetime(2027, 1, 11, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        split_session_id("no-slash")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2027, 1, 1), datetime(2027, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        weekly(start=datetime(2027, 3, 8, 10))


def test_cadence_must_be_whole_weeks():
    with pytest.raises(ValueError, match="whole weeks"):
        weekly(every=timedelta(days=3))
