"""One person's busy calendar never stalls or exhausts the daemon (issue 14, point 1).

Hostile feeds are served on loopback (a feed that hangs, one that drips a byte at a time, one that
never ends, a rule repeating every second) and hostile files written beside the config (many events);
each is read with small limits and must fail its own person, in bounded time and memory, with an error
naming the limit, while everyone else asked in the same request is answered.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coachd.model.types import Interval
from coachd.providers.base import BusyPerson, BusySourceError
from coachd.providers.busy import EachPersonBusy
from coachd.providers.local.busy_ics import IcsBusySource, SourceLimits
from tests.contracts.busy_suite import WEEK, utc
from tests.contracts.test_busy_ics import vcalendar, vevent

GOOD = vcalendar(vevent(Interval(utc(5, 9), utc(5, 10))))
SECONDLY = vcalendar("DTSTART:20270104T000000Z\nDTEND:20270104T000001Z\nRRULE:FREQ=SECONDLY")
MINUTELY = vcalendar("DTSTART:20270104T000000Z\nDTEND:20270104T000030Z\nRRULE:FREQ=MINUTELY")
# A rule that began long before the window: expanding it means walking every second since.
SECONDLY_SINCE_2020 = vcalendar("DTSTART:20200101T000000Z\nDTEND:20200101T000001Z\nRRULE:FREQ=SECONDLY;BYHOUR=9")

# Small limits, so each test ends in about a second and a half at most.
SMALL = SourceLimits(deadline_seconds=1.5, max_bytes=1_000_000, max_events=1_000, max_instances=5_000)
MEMORY = 40_000_000  # bytes of Python allocations any test here may peak at


class HostileFeeds:
    """Feeds on 127.0.0.1. Every handler gives up after `patience` seconds, or as soon as the test ends."""

    patience = 20.0

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {"/secondly.ics": SECONDLY, "/minutely.ics": MINUTELY}
        self.stop = threading.Event()
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/hang.ics":  # accepts, reads the request, never answers
                    feeds.stop.wait(feeds.patience)
                    return
                if self.path == "/drip.ics":  # a byte every 0.2 s, forever
                    self._headers()
                    self._drip(lambda: b"B", 0.2)
                    return
                if self.path == "/forever.ics":  # generated, never stored: no end and no length
                    self._headers()
                    self._drip(lambda: b"BEGIN:VCALENDAR\r\n" * 4096, 0)
                    return
                if self.path == "/gzip-bomb.ics":  # a few KB on the wire, endless zeros once unpacked
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.end_headers()
                    packer, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(1_000_000)
                    self._drip(lambda: packer.compress(zeros) + packer.flush(zlib.Z_SYNC_FLUSH), 0)
                    return
                if self.path == "/declared-huge.ics":  # says up front it is 5 GB
                    self.send_response(200)
                    self.send_header("Content-Length", str(5 * 1024**3))
                    self.end_headers()
                    self._drip(lambda: b"X" * 65536, 0)
                    return
                body = feeds.bodies.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _headers(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.end_headers()  # no Content-Length: the body ends when the connection does

            def _drip(self, piece, pause: float) -> None:  # type: ignore[no-untyped-def]
                until = time.monotonic() + feeds.patience
                try:
                    while time.monotonic() < until and not feeds.stop.wait(pause):
                        self.wfile.write(piece())
                        self.wfile.flush()
                except OSError:  # the reader gave up: what it should do
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def feeds() -> Iterator[HostileFeeds]:
    served = HostileFeeds()
    served.thread.start()
    try:
        yield served
    finally:
        served.close()


def many_events(count: int) -> bytes:
    return vcalendar(*(vevent(Interval(utc(4, 0, minute % 60), utc(4, 1, minute % 60))) for minute in range(count)))


class Measured:
    seconds: float = 0.0
    peak: int = 0


def measured_busy(provider: EachPersonBusy, people: list[str], window: Interval = WEEK):  # type: ignore[no-untyped-def]
    """The provider's answer, with the wall time it took and the peak of Python allocations meanwhile."""
    measured = Measured()
    tracemalloc.start()
    began = time.monotonic()
    try:
        answer = provider.busy([BusyPerson(p, f"{p}@example.com") for p in people], window)
    finally:
        measured.seconds = time.monotonic() - began
        measured.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return answer, measured


def bounded(sources: dict[str, str], base: Path, limits: SourceLimits = SMALL, workers: int = 8) -> EachPersonBusy:
    return EachPersonBusy(IcsBusySource(sources, base, limits=limits), workers=workers,
                          deadline_seconds=limits.deadline_seconds)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/hang.ics", "deadline_seconds"),
        ("/drip.ics", "deadline_seconds"),
        ("/forever.ics", "max_bytes"),
        ("/declared-huge.ics", "max_bytes"),
        ("/gzip-bomb.ics", "max_bytes"),
        ("/secondly.ics", "max_instances"),
        ("/minutely.ics", "max_instances"),
    ],
)
def test_a_hostile_feed_fails_its_person_only_within_the_limits(
    tmp_path: Path, feeds: HostileFeeds, path: str, limit: str
) -> None:
    (tmp_path / "good.ics").write_bytes(GOOD)
    feeds.bodies["/good.ics"] = GOOD
    provider = bounded({"mallory": feeds.url(path), "ana": "good.ics", "ben": feeds.url("/good.ics")}, tmp_path)

    answer, measured = measured_busy(provider, ["mallory", "ana", "ben"])

    assert measured.seconds < SMALL.deadline_seconds + 3, f"took {measured.seconds:.1f} s"
    assert measured.peak < MEMORY, f"peak {measured.peak:,} bytes"
    error = answer.failures["mallory"]
    assert isinstance(error, BusySourceError) and error.person_id == "mallory"
    assert f"daemon.busy_limits.{limit}" in str(error) and feeds.url(path) in str(error)
    assert answer["ana"] == answer["ben"] == [Interval(utc(5, 9), utc(5, 10))]


def test_every_hostile_feed_at_once_still_answers_everyone_else(tmp_path: Path, feeds: HostileFeeds) -> None:
    feeds.bodies["/good.ics"] = GOOD
    hostile = ["/hang.ics", "/drip.ics", "/forever.ics", "/secondly.ics", "/minutely.ics"]
    sources = {f"bad{n}": feeds.url(path) for n, path in enumerate(hostile)}
    sources |= {f"good{n}": feeds.url("/good.ics") for n in range(5)}

    answer, measured = measured_busy(bounded(sources, tmp_path, workers=4), list(sources))

    # Four at a time: the two slow ones hold two workers for a deadline; the rest pass through the others.
    assert measured.seconds < 2 * (SMALL.deadline_seconds + 1) + 2, f"took {measured.seconds:.1f} s"
    assert measured.peak < MEMORY
    assert sorted(answer.failures) == [f"bad{n}" for n in range(5)]
    assert all(answer[f"good{n}"] == [Interval(utc(5, 9), utc(5, 10))] for n in range(5))


def test_a_source_that_never_answers_is_given_up_on_at_the_deadline(tmp_path: Path) -> None:
    """Whatever the source does (here: blocks outright), its person fails at the deadline and no one waits."""
    release = threading.Event()

    class Stuck:
        def __init__(self) -> None:
            self.sources = {"mallory": "stuck.ics"}

        def busy(self, person_id: str, window: Interval) -> list[Interval]:
            if person_id == "mallory":
                release.wait(30)
            return []

    provider = EachPersonBusy(Stuck(), workers=2, deadline_seconds=0.5)  # type: ignore[arg-type]
    try:
        answer, measured = measured_busy(provider, ["mallory", "ana", "ben", "carla"])
    finally:
        release.set()
    assert measured.seconds < 3
    assert "daemon.busy_limits.deadline_seconds (0.5 s)" in str(answer.failures["mallory"])
    assert answer.failures["mallory"].source == "stuck.ics"
    assert answer["ana"] == answer["ben"] == answer["carla"] == []


@pytest.mark.parametrize(
    ("content", "limit"),
    [
        (lambda: many_events(3_000), "max_events"),  # over 1,000 events
        (lambda: b"BEGIN:VCALENDAR\r\n" + b"X" * 2_000_000, "max_bytes"),  # over 1 MB
        (lambda: SECONDLY_SINCE_2020, "max_instances"),  # every second for seven years before the window
    ],
)
def test_a_hostile_file_fails_its_person_only_within_the_limits(tmp_path: Path, content, limit: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.ics").write_bytes(content())
    (tmp_path / "good.ics").write_bytes(GOOD)
    answer, measured = measured_busy(bounded({"mallory": "bad.ics", "ana": "good.ics"}, tmp_path), ["mallory", "ana"])
    assert measured.seconds < SMALL.deadline_seconds + 3
    assert measured.peak < MEMORY
    assert f"daemon.busy_limits.{limit}" in str(answer.failures["mallory"])
    assert "bad.ics" in str(answer.failures["mallory"])
    assert answer["ana"] == [Interval(utc(5, 9), utc(5, 10))]


def test_occurrences_in_the_window_are_counted_as_they_come(tmp_path: Path) -> None:
    """900 single events, each within max_events, but over max_instances together once expanded."""
    (tmp_path / "cal.ics").write_bytes(many_events(900))
    limits = SourceLimits(deadline_seconds=5, max_events=1_000, max_instances=500)
    with pytest.raises(BusySourceError, match=r"daemon\.busy_limits\.max_instances \(500\)"):
        IcsBusySource({"maria": "cal.ics"}, tmp_path, limits=limits).busy("maria", WEEK)


def test_a_calendar_within_the_limits_is_read_whole(tmp_path: Path) -> None:
    """The limits refuse only what is over them: a minutely rule of a morning, a weekly rule of years."""
    (tmp_path / "cal.ics").write_bytes(vcalendar(
        "DTSTART:20270105T090000Z\nDTEND:20270105T090100Z\nRRULE:FREQ=MINUTELY;COUNT=120",
        "DTSTART:20100104T150000Z\nDTEND:20100104T160000Z\nRRULE:FREQ=WEEKLY",
    ))
    got = IcsBusySource({"maria": "cal.ics"}, tmp_path, limits=SMALL).busy("maria", WEEK)
    assert got == [Interval(utc(4, 15), utc(4, 16)), Interval(utc(5, 9), utc(5, 11))]


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "cal.ics")
    answer, measured = measured_busy(bounded({"maria": "cal.ics"}, tmp_path), ["maria"])
    assert measured.seconds < 1
    assert "not a regular file" in str(answer.failures["maria"])


def test_limits_come_from_the_config(tmp_path: Path) -> None:
    from coachd.config.model import ProgramConfig
    from coachd.observe.busy import own_busy

    config = {
        "program": {"id": "p", "name": "P", "timezone": "UTC", "starts": "2027-01-04", "ends": "2027-03-01"},
        "organizer": {"name": "Org", "email": "org@example.com"},
        "people": [
            {"id": "coach", "name": "C", "email": "c@example.com", "timezone": "UTC", "busy": "bad.ics"},
            {"id": "ana", "name": "A", "email": "a@example.com", "timezone": "UTC", "busy": "good.ics"},
        ],
        "teams": [{"id": "t", "name": "T", "coach": "coach", "members": ["ana"]}],
        "daemon": {"busy_limits": {"deadline_seconds": 2, "max_events": 10, "workers": 2}},
    }
    cfg = ProgramConfig.model_validate(config, context={"source": tmp_path / "config.yaml"})
    (tmp_path / "bad.ics").write_bytes(many_events(11))
    (tmp_path / "good.ics").write_bytes(GOOD)
    provider, people = own_busy(cfg)
    answer = provider.busy(people, WEEK)
    assert "over daemon.busy_limits.max_events (10)" in str(answer.failures["coach"])
    assert answer["ana"] == [Interval(utc(5, 9), utc(5, 10))]
    assert provider.workers == 2 and provider.deadline_seconds == 2
