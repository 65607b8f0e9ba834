"""The busy role's contract: when people are busy over a window, whatever calendar service is asked.

Each implementation builds a source from people's calendars described here in neutral terms
(timed, weekly and all-day events in a person's own zone, or a calendar that cannot be read) and
answers through one fixture, `busy_of(people, window) -> {person_id: [Interval]}`: the role's one
question, so that pointing the suite at a batched role changes that fixture and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coachd.model.types import UTC, Interval
from coachd.providers.base import BusySource, BusySourceError


@dataclass(frozen=True)
class Timed:
    """A timed event; `weekly` > 1 repeats it that many weeks in its own zone, skipping `skipped`."""

    start: datetime
    end: datetime
    weekly: int = 1
    skipped: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class AllDay:
    """An all-day event of `days` days from `first`: the whole local days of the person's zone."""

    first: date
    days: int = 1


Event = Timed | AllDay


@dataclass(frozen=True)
class Calendar:
    """A person's calendar: their events and their zone (for all-day events)."""

    events: tuple[Event, ...] = ()
    zone: str = "UTC"


# A calendar that exists but cannot be read: each implementation makes its own kind of broken.
UNREADABLE = Calendar(zone="unreadable")

# person id -> calendar; the implementation builds a source knowing exactly these people.
MakeSource = Callable[[Mapping[str, Calendar]], BusySource]
BusyOf = Callable[[Mapping[str, Calendar], Sequence[str], Interval], dict[str, list[Interval]]]


def utc(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


def busy(*intervals: Interval) -> Calendar:
    return Calendar(tuple(Timed(i.start, i.end) for i in intervals))


WEEK = Interval(utc(4, 0), utc(11, 0))
CHICAGO, TOKYO = ZoneInfo("America/Chicago"), ZoneInfo("Asia/Tokyo")


class BusyContract:
    """Behaviour every busy source must have. Subclasses provide `make_source`, and declare the
    service's limits; `busy_of` is where the suite asks its one question."""

    # The longest window and the most people one question may cover (None: no limit); the suite
    # asks within them.
    max_window: timedelta | None = None
    max_batch: int | None = None

    @pytest.fixture
    def make_source(self) -> MakeSource:
        raise NotImplementedError("subclasses build a source from people's calendars")

    @pytest.fixture
    def busy_of(self, make_source: MakeSource) -> BusyOf:
        def ask(calendars: Mapping[str, Calendar], people: Sequence[str],
                window: Interval) -> dict[str, list[Interval]]:
            assert self.max_window is None or window.duration <= self.max_window
            assert self.max_batch is None or len(people) <= self.max_batch
            return make_source(calendars).busy_many(list(people), window)

        return ask

    def test_satisfies_the_protocol(self, make_source: MakeSource) -> None:
        assert isinstance(make_source({}), BusySource)

    # --- timed events ------------------------------------------------------------------------

    def test_busy_times_in_the_window_sorted_in_utc(self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(6, 15), utc(6, 16)), Interval(utc(5, 14), utc(5, 15)))}
        got = busy_of(calendars, ["maria"], WEEK)["maria"]
        assert got == [Interval(utc(5, 14), utc(5, 15)), Interval(utc(6, 15), utc(6, 16))]
        assert all(i.start.utcoffset() == timedelta(0) for i in got)

    def test_busy_times_are_clipped_to_the_window_and_outside_ones_dropped(self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(3, 22), utc(4, 2)), Interval(utc(12, 9), utc(12, 10)))}
        assert busy_of(calendars, ["maria"], WEEK) == {"maria": [Interval(utc(4, 0), utc(4, 2))]}

    def test_overlapping_busy_times_do_not_overlap_in_the_answer(self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(5, 9), utc(5, 11)), Interval(utc(5, 10), utc(5, 12)))}
        got = busy_of(calendars, ["maria"], WEEK)["maria"]
        assert all(a.end <= b.start for a, b in zip(got, got[1:]))
        assert sum((i.duration for i in got), timedelta()) == timedelta(hours=3)

    def test_touching_busy_times_merge(self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(5, 9), utc(5, 10)), Interval(utc(5, 10), utc(5, 11)))}
        assert busy_of(calendars, ["maria"], WEEK) == {"maria": [Interval(utc(5, 9), utc(5, 11))]}

    def test_times_written_in_a_zone_come_back_in_utc(self, busy_of: BusyOf) -> None:
        calendars = {"maria": Calendar((Timed(datetime(2027, 1, 5, 9, tzinfo=CHICAGO),
                                              datetime(2027, 1, 5, 10, 30, tzinfo=CHICAGO)),), "America/Chicago")}
        assert busy_of(calendars, ["maria"], WEEK) == {"maria": [Interval(utc(5, 15), utc(5, 16, 30))]}

    # --- recurring and all-day events ------------------------------------------------------------

    def test_a_weekly_event_keeps_its_wall_time_across_dst_and_skips_excluded_weeks(self, busy_of: BusyOf) -> None:
        first = datetime(2027, 3, 1, 9, tzinfo=CHICAGO)
        weekly = Timed(first, first + timedelta(hours=1), weekly=4, skipped=(datetime(2027, 3, 8, 9, tzinfo=CHICAGO),))
        got = busy_of({"maria": Calendar((weekly,), "America/Chicago")}, ["maria"],
                      Interval(utc(1, 0, month=3), utc(1, 0, month=4)))
        assert got == {"maria": [
            Interval(utc(1, 15, month=3), utc(1, 16, month=3)),  # CST: 09:00 is 15:00 UTC
            Interval(utc(15, 14, month=3), utc(15, 15, month=3)),  # CDT after 14 March: 14:00 UTC
            Interval(utc(22, 14, month=3), utc(22, 15, month=3)),
        ]}

    def test_all_day_events_block_the_whole_local_day(self, busy_of: BusyOf) -> None:
        calendars = {"maria": Calendar((AllDay(date(2027, 1, 5)), AllDay(date(2027, 1, 8), days=2)), "Asia/Tokyo")}
        got = busy_of(calendars, ["maria"], Interval(utc(1, 0), utc(15, 0)))
        assert got == {"maria": [Interval(utc(4, 15), utc(5, 15)), Interval(utc(7, 15), utc(9, 15))]}

    def test_the_same_all_day_event_falls_on_each_persons_own_day(self, busy_of: BusyOf) -> None:
        holiday = (AllDay(date(2027, 1, 6)),)
        got = busy_of({"kenji": Calendar(holiday, "Asia/Tokyo"), "maria": Calendar(holiday, "America/Chicago")},
                      ["kenji", "maria"], WEEK)
        assert got == {"kenji": [Interval(utc(5, 15), utc(6, 15))], "maria": [Interval(utc(6, 6), utc(7, 6))]}

    # --- people ------------------------------------------------------------------------------------

    def test_a_person_without_a_calendar_is_not_busy(self, busy_of: BusyOf) -> None:
        assert busy_of({"maria": busy(Interval(utc(5, 9), utc(5, 10)))}, ["nobody"], WEEK) == {"nobody": []}

    def test_many_people_are_answered_at_once_each_by_id(self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(5, 9), utc(5, 10))), "kenji": busy(Interval(utc(6, 1), utc(6, 2)))}
        got = busy_of(calendars, ["maria", "kenji", "nobody"], WEEK)
        assert got == {
            "maria": [Interval(utc(5, 9), utc(5, 10))],
            "kenji": [Interval(utc(6, 1), utc(6, 2))],
            "nobody": [],
        }

    # --- errors ------------------------------------------------------------------------------------

    def test_a_calendar_that_cannot_be_read_raises_naming_the_person(self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(5, 9), utc(5, 10))), "kenji": UNREADABLE}
        with pytest.raises(BusySourceError, match="'kenji'") as caught:
            busy_of(calendars, ["maria", "kenji"], WEEK)
        assert caught.value.person_id == "kenji" and caught.value.source
