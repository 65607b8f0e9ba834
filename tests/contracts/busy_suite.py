"""The busy role's contract: when people are busy over a window, whatever calendar service is asked.

Each implementation builds a source from people's calendars described here in neutral terms
(timed, weekly and all-day events in a person's own zone, or a calendar that cannot be read) and
answers as the busy role (`coachd.providers.base.BusyProvider`) asked within its declared limits
(`ask_within_limits`), through one fixture, `busy_of(people, window) -> BusyTimes`. A person whose
calendar cannot be read is a failure in the answer, never a reason to lose the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from coachd.model.types import UTC, Interval
from coachd.providers.base import BusyPerson, BusyProvider, BusySourceError, BusyTimes
from coachd.providers.busy import ask_within_limits


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
MakeSource = Callable[[Mapping[str, Calendar]], BusyProvider]
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
            provider = make_source(calendars)
            return ask_within_limits(provider, [BusyPerson(p, f"{p}@people.example") for p in people], window)

        return ask

    def test_satisfies_the_protocol(self, make_source: MakeSource) -> None:
        provider = make_source({})
        assert isinstance(provider, BusyProvider)
        assert (provider.limits.max_window, provider.limits.max_batch) == (self.max_window, self.max_batch)

    def test_a_long_window_for_many_people_is_asked_within_the_declared_limits(self, make_source: MakeSource) -> None:
        provider = make_source({f"p{n}": busy(Interval(utc(5, 9), utc(5, 10))) for n in range(7)})
        asked: list[tuple[int, Interval]] = []

        def call(busy, people, window):  # type: ignore[no-untyped-def]
            asked.append((len(people), window))
            return busy(people, window)

        year = Interval(utc(1, 0), utc(1, 0) + timedelta(days=366))
        got = ask_within_limits(provider, [BusyPerson(f"p{n}", f"p{n}@people.example") for n in range(7)], year,
                                call=call)
        assert got == {f"p{n}": [Interval(utc(5, 9), utc(5, 10))] for n in range(7)} and not got.failures
        assert asked and all((self.max_batch is None or size <= self.max_batch)
                             and (self.max_window is None or window.duration <= self.max_window)
                             for size, window in asked), asked

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

    def test_a_calendar_that_cannot_be_read_is_a_failure_naming_the_person_and_loses_no_one_else(
            self, busy_of: BusyOf) -> None:
        calendars = {"maria": busy(Interval(utc(5, 9), utc(5, 10))), "kenji": UNREADABLE}
        got = busy_of(calendars, ["maria", "kenji"], WEEK)
        assert isinstance(got, BusyTimes)
        assert got == {"maria": [Interval(utc(5, 9), utc(5, 10))]}, "kenji is unknown, not free"
        failure = got.failures["kenji"]
        assert isinstance(failure, BusySourceError) and "'kenji'" in str(failure)
        assert failure.person_id == "kenji" and failure.source
