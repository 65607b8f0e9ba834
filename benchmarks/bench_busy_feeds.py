"""Hostile busy calendars read by coachd's ICS busy source, within daemon.busy_limits (issue 14, point 1).

Cases, each in a fresh process so that its peak memory (max RSS) is its own:
  events-200k        a file of 200,000 one-hour events (~24 MB), default limits: refused (max_bytes)
  events-200k-bytes-raised   the same with max_bytes raised: refused (max_events), counted before parsing
  events-200k-raised (--raised) the same file with every limit raised past it: read whole
  secondly           FREQ=SECONDLY with no end, default limits: refused (max_instances) before expanding
  secondly-feed      the same rule served over loopback HTTP: fetched, then refused the same way
The floor, measured in the same run and the same way: reading the 200k file's bytes, and reading a
one-event file through the same source. Prints seconds, max RSS and the ratio of each case to the floor
(the 200k cases to reading its bytes, the others to the one-event file). Before the limits the probe measured
1.6 GB and 2 minutes for 200k events, and a SECONDLY rule never finished (4.9 GB when stopped).
Run: .venv/bin/python benchmarks/bench_busy_feeds.py [--events 200000] [--raised]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

from coachd.model.types import Interval
from coachd.providers.base import BusySourceError
from coachd.providers.local.busy_ics import IcsBusySource, SourceLimits

# The window the daemon asks for: a year of a program, as sync does.
WINDOW = Interval(datetime(2027, 1, 4, tzinfo=UTC), datetime(2028, 1, 4, tzinfo=UTC))
START = datetime(2027, 1, 4, 8, tzinfo=UTC)


def calendar(events: list[str]) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:e{n}@bench\r\nDTSTAMP:20260101T000000Z\r\n{e}\r\nEND:VEVENT\r\n"
                   for n, e in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{body}END:VCALENDAR\r\n".encode()


def one_hour(n: int) -> str:
    start = START + timedelta(hours=n % 8, days=(n // 8) % 365)
    return f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}"


SECONDLY = calendar(["DTSTART:20270104T000000Z\r\nDTEND:20270104T000001Z\r\nRRULE:FREQ=SECONDLY"])


def serve(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_case(case: str, folder: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    base = Path(folder)
    limits = SourceLimits()
    source = "big.ics"
    server = None
    if case == "events-200k-bytes-raised":
        limits = SourceLimits(max_bytes=10**9)
    elif case == "events-200k-raised":
        limits = SourceLimits(max_bytes=10**9, max_events=10**7, max_instances=10**7, deadline_seconds=3600)
    elif case == "secondly":
        source = "secondly.ics"
    elif case == "secondly-feed":
        server = serve(SECONDLY)
        source = f"http://127.0.0.1:{server.server_address[1]}/secondly.ics"
    elif case == "floor-small":
        source = "small.ics"
    began = time.perf_counter()
    if case == "floor-bytes":
        outcome = f"{len((base / source).read_bytes()):,} bytes read"
    else:
        try:
            found = IcsBusySource({"p": source}, base, limits=limits).busy("p", WINDOW)
            outcome = f"{len(found):,} busy intervals"
        except BusySourceError as error:
            outcome = f"refused: {error.message[:100]}"
    seconds = time.perf_counter() - began
    if server is not None:
        server.shutdown()
    out.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, outcome))


def measure(case: str, folder: str) -> tuple[float, int, str]:
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    child = multiprocessing.get_context("fork").Process(target=run_case, args=(case, folder, out))
    child.start()
    result = out.get(timeout=3600)
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--raised", action="store_true",
                        help="also read the whole file with the limits raised past it (minutes, and GBs of memory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "big.ics").write_bytes(calendar([one_hour(n) for n in range(args.events)]))
        (base / "secondly.ics").write_bytes(SECONDLY)
        (base / "small.ics").write_bytes(calendar([one_hour(0)]))
        print(f"{args.events:,} events: {(base / 'big.ics').stat().st_size / 1e6:.1f} MB; window {WINDOW.start:%Y-%m-%d}"
              f" to {WINDOW.end:%Y-%m-%d}; default limits {SourceLimits()}")
        floors = {name: measure(name, folder) for name in ("floor-bytes", "floor-small")}
        print(f"{'case':20} {'seconds':>8} {'ratio':>8} {'max RSS MB':>10}  outcome")
        for name, (seconds, rss, outcome) in floors.items():
            print(f"{name:20} {seconds:8.3f} {'':>8} {rss / 1e6:10.1f}  {outcome}")
        for case in ("events-200k", "events-200k-bytes-raised", "secondly", "secondly-feed", *(("events-200k-raised",) if args.raised else ())):
            seconds, rss, outcome = measure(case, folder)
            floor = floors["floor-bytes" if case.startswith("events") else "floor-small"][0]
            print(f"{case:20} {seconds:8.3f} {seconds / floor:8.1f} {rss / 1e6:10.1f}  {outcome}", flush=True)


if __name__ == "__main__":
    main()
