"""Busy times from ICS files and from ICS feeds (served on loopback) run the busy contract; ICS specifics beside it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coachd.model.types import UTC, Interval
from coachd.providers.base import BusySourceError
from coachd.providers.busy import EachPersonBusy
from coachd.providers.local.busy_ics import IcsBusySource
from tests.contracts.busy_suite import (
    UNREADABLE,
    WEEK,
    AllDay,
    BusyContract,
    Calendar,
    MakeSource,
    Timed,
    utc,
)


def vcalendar(*bodies: str) -> bytes:
    """A calendar with one VEVENT per body; a body without its own UID gets a fresh one."""
    events = ""
    for n, body in enumerate(bodies):
        uid = "" if "UID:" in body else f"UID:e{n}@test\n"
        events += f"BEGIN:VEVENT\n{uid}DTSTAMP:20260101T000000Z\n{body.strip()}\nEND:VEVENT\n"
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{events}END:VCALENDAR\n".replace("\n", "\r\n").encode()


def vevent(interval: Interval) -> str:
    return f"DTSTART:{interval.start:%Y%m%dT%H%M%SZ}\nDTEND:{interval.end:%Y%m%dT%H%M%SZ}"


def ics_time(name: str, when) -> str:  # type: ignore[no-untyped-def]
    """DTSTART/DTEND/EXDATE in UTC (`Z`) or in the time's own zone (TZID), as calendar apps write them."""
    if when.tzinfo is UTC:
        return f"{name}:{when:%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={when.tzinfo.key}:{when:%Y%m%dT%H%M%S}"


def ics_event(event: Timed | AllDay) -> str:
    if isinstance(event, AllDay):
        end = event.first + timedelta(days=event.days)
        return f"DTSTART;VALUE=DATE:{event.first:%Y%m%d}" + (f"\nDTEND;VALUE=DATE:{end:%Y%m%d}" if event.days > 1 else "")
    lines = [ics_time("DTSTART", event.start), ics_time("DTEND", event.end)]
    if event.weekly > 1:
        lines.append(f"RRULE:FREQ=WEEKLY;COUNT={event.weekly}")
    lines += [ics_time("EXDATE", skipped) for skipped in event.skipped]
    return "\n".join(lines)


def ics_calendar(calendar: Calendar) -> bytes:
    return vcalendar(*(ics_event(e) for e in calendar.events))


def zones_of(calendars: Mapping[str, Calendar]) -> dict[str, str]:
    return {person: c.zone for person, c in calendars.items() if c is not UNREADABLE}


class TestIcsFiles(BusyContract):
    @pytest.fixture
    def make_source(self, tmp_path: Path) -> MakeSource:
        def make(calendars: Mapping[str, Calendar]) -> EachPersonBusy:
            for person, calendar in calendars.items():
                data = b"\x00\xffnot a calendar at all" if calendar is UNREADABLE else ics_calendar(calendar)
                (tmp_path / f"{person}.ics").write_bytes(data)
            return EachPersonBusy(IcsBusySource({p: f"{p}.ics" for p in calendars}, tmp_path, zones_of(calendars)))

        return make


class TestIcsFeeds(BusyContract):
    @pytest.fixture
    def make_source(self, tmp_path: Path, feeds: Feeds) -> MakeSource:
        def make(calendars: Mapping[str, Calendar]) -> EachPersonBusy:
            for person, calendar in calendars.items():
                if calendar is UNREADABLE:
                    feeds.status[f"/{person}.ics"] = 500
                else:
                    feeds.bodies[f"/{person}.ics"] = ics_calendar(calendar)
            return EachPersonBusy(IcsBusySource({p: feeds.url(f"/{p}.ics") for p in calendars}, tmp_path,
                                                zones_of(calendars)))

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


def test_floating_times_are_the_persons_wall_time(tmp_path: Path) -> None:
    source = source_for(tmp_path, "DTSTART:20270105T090000\nDTEND:20270105T100000", zone="Asia/Tokyo")
    assert source.busy("maria", WEEK) == [Interval(utc(5, 0), utc(5, 1))]


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


class Feeds:
    """Tiny ICS feeds on 127.0.0.1 (path -> body) that honour If-None-Match and record what they were asked."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.etags: dict[str, str] = {}
        self.status: dict[str, int] = {}
        self.requests: list[dict[str, str]] = []
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                feeds.requests.append({k.lower(): v for k, v in self.headers.items()})
                status = feeds.status.get(self.path, 200 if self.path in feeds.bodies else 404)
                if status != 200:
                    self.send_error(status)
                    return
                etag = feeds.etags.get(self.path)
                if etag is not None and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                body = feeds.bodies[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                if etag is not None:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", "Fri, 01 Jan 2027 00:00:00 GMT")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def feeds() -> Iterator[Feeds]:
    served = Feeds()
    served.thread.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def feed(feeds: Feeds) -> Feeds:
    """Maria's feed, /maria.ics, with an ETag."""
    feeds.bodies["/maria.ics"] = vcalendar(vevent(Interval(utc(5, 9), utc(5, 10))))
    feeds.etags["/maria.ics"] = '"v1"'
    return feeds


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_feed_is_cached_for_the_ttl_then_revalidated_with_etag(tmp_path: Path, feed: Feeds) -> None:
    clock = FakeClock()
    source = IcsBusySource({"maria": feed.url("/maria.ics")}, tmp_path, ttl=timedelta(minutes=5), monotonic=clock)
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    clock.now += 60
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    assert len(feed.requests) == 1, "within the TTL the feed must not be fetched again"
    clock.now += 300
    assert source.busy("maria", WEEK) == [Interval(utc(5, 9), utc(5, 10))]
    assert len(feed.requests) == 2
    assert feed.requests[1]["if-none-match"] == '"v1"'
    assert feed.requests[1]["if-modified-since"] == "Fri, 01 Jan 2027 00:00:00 GMT"
    feed.bodies["/maria.ics"], feed.etags["/maria.ics"] = vcalendar(vevent(Interval(utc(7, 9), utc(7, 11)))), '"v2"'
    clock.now += 301
    assert source.busy("maria", WEEK) == [Interval(utc(7, 9), utc(7, 11))]


def test_feed_http_error_raises(tmp_path: Path, feed: Feeds) -> None:
    feed.status["/maria.ics"] = 404
    with pytest.raises(BusySourceError, match="HTTP 404") as caught:
        IcsBusySource({"maria": feed.url("/maria.ics")}, tmp_path).busy("maria", WEEK)
    assert caught.value.source == feed.url("/maria.ics")


def test_unreachable_feed_raises(tmp_path: Path, feed: Feeds) -> None:
    url = feed.url("/maria.ics")
    feed.stop()
    with pytest.raises(BusySourceError, match="cannot fetch"):
        IcsBusySource({"maria": url}, tmp_path).busy("maria", WEEK)
