"""BusySource: the contract every busy-time source keeps, and the ICS file/feed source."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coachd.model.types import UTC, Interval
from coachd.providers.base import BusySource, BusySourceError
from coachd.providers.local.busy_ics import IcsBusySource

MakeSource = Callable[[dict[str, list[Interval]]], BusySource]


def utc(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


WEEK = Interval(utc(4, 0), utc(11, 0))


class BusySourceContract:
    """Behaviour every BusySource must have. Subclasses provide `make_source(busy_by_person)`,
    which builds a source whose people are busy exactly during the given intervals."""

    @pytest.fixture
    def make_source(self) -> MakeSource:
        raise NotImplementedError

    def test_satisfies_the_protocol(self, make_source: MakeSource) -> None:
        assert isinstance(make_source({}), BusySource)

    def test_busy_times_in_the_window_sorted_in_utc(self, make_source: MakeSource) -> None:
        source = make_source({"maria": [Interval(utc(6, 15), utc(6, 16)), Interval(utc(5, 14), utc(5, 15))]})
        got = source.busy("maria", WEEK)
        assert got == [Interval(utc(5, 14), utc(5, 15)), Interval(utc(6, 15), utc(6, 16))]
        assert all(i.start.utcoffset() == timedelta(0) for i in got)

    def test_busy_times_are_clipped_to_the_window_and_outside_ones_dropped(self, make_source: MakeSource) -> None:
        source = make_source({"maria": [Interval(utc(3, 22), utc(4, 2)), Interval(utc(12, 9), utc(12, 10))]})
        assert source.busy("maria", WEEK) == [Interval(utc(4, 0), utc(4, 2))]

    def test_overlapping_busy_times_do_not_overlap_in_the_answer(self, make_source: MakeSource) -> None:
        source = make_source({"maria": [Interval(utc(5, 9), utc(5, 11)), Interval(utc(5, 10), utc(5, 12))]})
        got = source.busy("maria", WEEK)
        assert all(a.end <= b.start for a, b in zip(got, got[1:]))
        assert sum((i.duration for i in got), timedelta()) == timedelta(hours=3)

    def test_a_person_without_a_calendar_is_not_busy(self, make_source: MakeSource) -> None:
        assert make_source({"maria": [Interval(utc(5, 9), utc(5, 10))]}).busy("nobody", WEEK) == []

    def test_busy_many_answers_for_every_person_asked(self, make_source: MakeSource) -> None:
        source = make_source({"maria": [Interval(utc(5, 9), utc(5, 10))], "kenji": [Interval(utc(6, 1), utc(6, 2))]})
        got = source.busy_many(["maria", "kenji", "nobody"], WEEK)
        assert got == {
            "maria": [Interval(utc(5, 9), utc(5, 10))],
            "kenji": [Interval(utc(6, 1), utc(6, 2))],
            "nobody": [],
        }


def vcalendar(*bodies: str) -> bytes:
    """A calendar with one VEVENT per body; a body without its own UID gets a fresh one."""
    events = ""
    for n, body in enumerate(bodies):
        uid = "" if "UID:" in body else f"UID:e{n}@test\n"
        events += f"BEGIN:VEVENT\n{uid}DTSTAMP:20260101T000000Z\n{body.strip()}\nEND:VEVENT\n"
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{events}END:VCALENDAR\n".replace("\n", "\r\n").encode()


def vevent(interval: Interval) -> str:
    return f"DTSTART:{interval.start:%Y%m%dT%H%M%SZ}\nDTEND:{interval.end:%Y%m%dT%H%M%SZ}"


class TestIcsBusySourceContract(BusySourceContract):
    @pytest.fixture
    def make_source(self, tmp_path: Path) -> MakeSource:
        def make(busy: dict[str, list[Interval]]) -> BusySource:
            for person, intervals in busy.items():
                (tmp_path / f"{person}.ics").write_bytes(vcalendar(*(vevent(i) for i in intervals)))
            return IcsBusySource({p: f"{p}.ics" for p in busy}, tmp_path)

        return make


# --- ICS specifics --------------------------------------------------------------------------------------


def source_for(tmp_path: Path, *bodies: str, zone: str = "America/Chicago") -> IcsBusySource:
    (tmp_path / "cal.ics").write_bytes(vcalendar(*bodies))
    return IcsBusySource({"maria": "cal.ics"}, tmp_path, {"maria": zone})


def test_recurring_event_with_exdate_and_override_across_dst(tmp_path: Path) -> None:
    source = source_for(
        tmp_path,
        """UID:weekly@test
DTSTART;TZID=America/Chicago:20270301T090000
DTEND;TZID=America/Chicago:20270301T100000
RRULE:FREQ=WEEKLY;COUNT=4
EXDATE;TZID=America/Chicago:20270308T090000""",
        """UID:weekly@test
RECURRENCE-ID;TZID=America/Chicago:20270322T090000
DTSTART;TZID=America/Chicago:20270323T130000
DTEND;TZID=America/Chicago:20270323T140000""",
    )
    got = source.busy("maria", Interval(utc(1, 0, month=3), utc(1, 0, month=4)))
    assert got == [
        Interval(utc(1, 15, month=3), utc(1, 16, month=3)),  # CST: 09:00 is 15:00 UTC
        Interval(utc(15, 14, month=3), utc(15, 15, month=3)),  # CDT after 14 March: 14:00 UTC
        Interval(utc(23, 18, month=3), utc(23, 19, month=3)),  # the moved occurrence
    ]


def test_rdate_adds_occurrences(tmp_path: Path) -> None:
    source = source_for(tmp_path, "DTSTART:20270104T150000Z\nDTEND:20270104T160000Z\nRDATE:20270107T150000Z")
    assert source.busy("maria", WEEK) == [Interval(utc(4, 15), utc(4, 16)), Interval(utc(7, 15), utc(7, 16))]


def test_transparent_and_cancelled_events_do_not_make_anyone_busy(tmp_path: Path) -> None:
    source = source_for(
        tmp_path,
        "DTSTART:20270105T150000Z\nDTEND:20270105T160000Z\nTRANSP:TRANSPARENT",
        "DTSTART:20270106T150000Z\nDTEND:20270106T160000Z\nSTATUS:CANCELLED",
        "UID:daily@test\nDTSTART:20270104T180000Z\nDTEND:20270104T190000Z\nRRULE:FREQ=DAILY;COUNT=3",
        "UID:daily@test\nRECURRENCE-ID:20270105T180000Z\n"
        "DTSTART:20270105T180000Z\nDTEND:20270105T190000Z\nSTATUS:CANCELLED",
    )
    assert source.busy("maria", WEEK) == [Interval(utc(4, 18), utc(4, 19)), Interval(utc(6, 18), utc(6, 19))]


def test_all_day_events_block_the_whole_local_day(tmp_path: Path) -> None:
    one_day, two_days = "DTSTART;VALUE=DATE:20270105", "DTSTART;VALUE=DATE:20270108\nDTEND;VALUE=DATE:20270110"
    source = source_for(tmp_path, one_day, two_days, zone="Asia/Tokyo")
    got = source.busy("maria", Interval(utc(1, 0), utc(15, 0)))
    assert got == [Interval(utc(4, 15), utc(5, 15)), Interval(utc(7, 15), utc(9, 15))]


def test_floating_times_are_the_persons_wall_time(tmp_path: Path) -> None:
    source = source_for(tmp_path, "DTSTART:20270105T090000\nDTEND:20270105T100000", zone="Asia/Tokyo")
    assert source.busy("maria", WEEK) == [Interval(utc(5, 0), utc(5, 1))]


def test_touching_busy_times_merge(tmp_path: Path) -> None:
    source = source_for(tmp_path, vevent(Interval(utc(5, 9), utc(5, 10))), vevent(Interval(utc(5, 10), utc(5, 11))))
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 11))]


def test_vfreebusy_periods_count_except_free_ones(tmp_path: Path) -> None:
    (tmp_path / "fb.ics").write_bytes(
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20260101T000000Z\r\n"
        b"FREEBUSY;FBTYPE=BUSY:20270105T090000Z/20270105T100000Z,20270105T120000Z/PT30M\r\n"
        b"FREEBUSY;FBTYPE=FREE:20270106T090000Z/PT8H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
    source = IcsBusySource({"kenji": "fb.ics"}, tmp_path)
    assert source.busy("kenji", WEEK) == [Interval(utc(5, 9), utc(5, 10)), Interval(utc(5, 12), utc(5, 12, 30))]


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    source = source_for(tmp_path, vevent(Interval(utc(5, 9), utc(5, 10))))
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    changed = vcalendar(vevent(Interval(utc(6, 9), utc(6, 9, 45))), "DTSTART:20270107T010000Z")  # + a moment
    (tmp_path / "cal.ics").write_bytes(changed)
    assert source.busy("maria", WEEK) == [Interval(utc(6, 9), utc(6, 9, 45))]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"\x00\xffnot a calendar at all", "not an iCalendar"),
        (vcalendar("DTSTART:20270104T150000Z\nDTEND:20270104T160000Z\nRRULE:FREQ=SOMETIMES"), "expand"),
    ],
)
def test_unreadable_sources_raise_naming_person_and_source(tmp_path: Path, content: bytes | None, message: str) -> None:
    if content is not None:
        (tmp_path / "cal.ics").write_bytes(content)
    source = IcsBusySource({"maria": "cal.ics"}, tmp_path)
    with pytest.raises(BusySourceError, match=message) as caught:
        source.busy("maria", WEEK)
    assert caught.value.person_id == "maria" and caught.value.source == "cal.ics"


def test_unknown_zone_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        IcsBusySource({}, tmp_path, {"maria": "Mars/Olympus"})


# --- http(s) feeds ----------------------------------------------------------------------------------------


class Feed:
    """A tiny ICS feed on 127.0.0.1 that honours If-None-Match and records what it was asked."""

    def __init__(self) -> None:
        self.body = vcalendar(vevent(Interval(utc(5, 9), utc(5, 10))))
        self.etag = '"v1"'
        self.status = 200
        self.requests: list[dict[str, str]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                feed.requests.append({k.lower(): v for k, v in self.headers.items()})
                if feed.status != 200:
                    self.send_error(feed.status)
                    return
                if self.headers.get("If-None-Match") == feed.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("ETag", feed.etag)
                self.send_header("Last-Modified", "Fri, 01 Jan 2027 00:00:00 GMT")
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/maria.ics"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def feed() -> Iterator[Feed]:
    served = Feed()
    served.thread.start()
    try:
        yield served
    finally:
        served.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_feed_is_cached_for_the_ttl_then_revalidated_with_etag(tmp_path: Path, feed: Feed) -> None:
    clock = FakeClock()
    source = IcsBusySource({"maria": feed.url}, tmp_path, ttl=timedelta(minutes=5), monotonic=clock)
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    clock.now += 60
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    assert len(feed.requests) == 1, "within the TTL the feed must not be fetched again"
    clock.now += 300
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    assert len(feed.requests) == 2
    assert feed.requests[1]["if-none-match"] == '"v1"'
    assert feed.requests[1]["if-modified-since"] == "Fri, 01 Jan 2027 00:00:00 GMT"
    feed.body, feed.etag = vcalendar(vevent(Interval(utc(7, 9), utc(7, 11)))), '"v2"'
    clock.now += 301
    assert source.busy("maria", WEEK) == [Interval(utc(7, 9), utc(7, 11))]


def test_feed_http_error_raises(tmp_path: Path, feed: Feed) -> None:
    feed.status = 404
    with pytest.raises(BusySourceError, match="HTTP 404") as caught:
        IcsBusySource({"maria": feed.url}, tmp_path).busy("maria", WEEK)
    assert caught.value.source == feed.url


def test_unreachable_feed_raises(tmp_path: Path, feed: Feed) -> None:
    url = feed.url
    feed.stop()
    with pytest.raises(BusySourceError, match="cannot fetch"):
        IcsBusySource({"maria": url}, tmp_path).busy("maria", WEEK)
