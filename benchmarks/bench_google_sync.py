"""Google requests and time of the daemon's jobs on a Google calendar and Google free/busy, against the local fake (issue 17 point 10).

Programs of 5 to 40 teams (a coach and --members coachees each, a sponsor), everyone in the Workspace with
--busy meetings over the year. The config names `calendar: {provider: google}` and `busy: {provider: google}`
with a service account's key, so the providers are built as `coachd run` builds them and the real client
libraries talk HTTP to the fake on loopback. Every job of the daemon runs once per tick on a virtual clock:

- first booking: the first tick (everyone's free/busy, the empty calendar's full sync, every series booked);
- echo poll: the next tick, 15 minutes on, where the sync reads coachd's own writes back once;
- steady poll: the ticks after that (--steady of them, each checked, the fastest timed), nothing changed.
  Goal: one events.list page and ceil(people / 50) freebusy.query calls per 90-day window of the busy
  window (the program, a week either side), nothing else.

Requests are counted in the fake's log by endpoint. Floors, measured in the same run:
- requests of the first booking: what the API cannot do without, given what the plan booked: a token per
  role, the goal's free/busy calls, one events.list of the empty calendar, one events.insert per series and
  one instance write per occurrence the plan moved or cancelled (Google holds each as an exception);
- time of the first booking and of the steady poll: the same ticks, the same Google free/busy, with a calendar
  that does nothing (it books into thin air and never changes), so the floor is the jobs' own work (planning,
  the store, free/busy) and the ratio what the Google calendar adds. For reference the same ticks with
  `calendar: {provider: local}` (the embedded folder of .ics files) are timed too.
The fake answers in this process, so its own work is inside the Google times (as Google's would be, elsewhere).
Times are wall and CPU seconds of this process; ratios are taken on CPU, which other work on a shared machine
disturbs less than wall time (both are printed).
Run: .venv/bin/python benchmarks/bench_google_sync.py [--teams 5,10,20,40] [--members 5] [--busy 250] [--page-size 250]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT))

from coachd.config import ProgramConfig, load_config_text
from coachd.execute.executor import Executor
from coachd.model.types import BookedSeries
from coachd.observe.calendar_sync import busy_window
from coachd.observe.observer import observe
from coachd.providers.base import CalendarCapabilities, CalendarEntry, CalendarProvider, SyncResult
from coachd.providers.google.busy import MAX_CALENDARS, MAX_WINDOW
from coachd.providers.google.calendar_events import wanted_overrides
from coachd.providers.google.family import ROLE_SCOPES
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.calendar import FakeCalendar
from tests.support.fake_google.freebusy import FakeFreeBusy
from tests.support.fake_google.oauth import FakeOAuth

ZONES = ("America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
         "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney")
STARTS, ENDS = date(2027, 1, 4), date(2027, 12, 17)
ORGANIZER = "office@bench.example"
ROLES = ("calendar", "busy")
# Endpoints by what they are, for the tables: the fake's paths with the event id taken out.
ENDPOINTS = (
    ("token", "POST", r"/token"),
    ("freebusy.query", "POST", r"/calendar/v3/freeBusy"),
    ("events.list", "GET", r"/calendar/v3/calendars/[^/]+/events"),
    ("events.insert", "POST", r"/calendar/v3/calendars/[^/]+/events"),
    ("events.get", "GET", r"/calendar/v3/calendars/[^/]+/events/[^/]+"),
    ("events.patch", "PATCH", r"/calendar/v3/calendars/[^/]+/events/[^/]+"),
)


def endpoint(method: str, path: str) -> str:
    for name, verb, pattern in ENDPOINTS:
        if method == verb and re.fullmatch(pattern, path):
            return name
    return f"{method} {path}"


def program_text(teams: int, members: int, calendar: str, busy: str) -> str:
    people, lines = [], []
    for t in range(teams):
        coach = f"c{t:03d}"
        team = [f"m{t:03d}x{n}" for n in range(members)]
        people += [coach, *team]
        lines.append(f"  - {{id: t{t:03d}, name: Team {t}, coach: {coach}, members: [{', '.join(team)}]}}")
    rows = [f"  - {{id: {p}, name: {p}, email: {p}@bench.example, timezone: {ZONES[n % len(ZONES)]}}}"
            for n, p in enumerate(people)]
    return "\n".join([
        f"program: {{id: bench-{teams}, name: Bench, timezone: Europe/London, starts: {STARTS}, ends: {ENDS}}}",
        f"organizer: {{name: Office, email: {ORGANIZER}, calendar: {calendar}, busy: {busy}}}",
        "people:", *rows,
        "  - {id: spon, name: Sponsor, email: spon@bench.example, timezone: Europe/London}",
        "sponsors: [spon]",
        "teams:", *lines,
    ])


def fill(freebusy: FakeFreeBusy, cfg: ProgramConfig, count: int, rng: random.Random) -> None:
    """`count` meetings of 30 to 120 minutes per person at random over the program."""
    first = datetime.combine(STARTS, datetime.min.time(), UTC)
    minutes = int((ENDS - STARTS).total_seconds() // 60)
    for person in cfg.people:
        blocks = []
        for _ in range(count):
            start = first + timedelta(minutes=rng.randrange(0, minutes // 30) * 30)
            blocks.append((start, start + timedelta(minutes=rng.choice((30, 60, 90, 120)))))
        freebusy.set_busy(str(person.email), blocks)


class NullCalendar(CalendarProvider):
    """The floor's calendar: takes every write, forgets it, and never has anything to sync. It declares that
    it invites attendees, as Google's does, so the plan (and the mail it queues) is the same as on Google."""

    capabilities = CalendarCapabilities(invites_attendees=True, hand_edits=True)

    def upsert_series(self, series: BookedSeries, organizer_name: str, organizer_email: str, *,
                      dtstamp: datetime) -> None:
        pass

    def cancel_series(self, uid: str) -> None:
        pass

    def list_series(self) -> list[CalendarEntry]:
        return []

    def sync(self, cursor: str | None) -> SyncResult:
        return SyncResult([], [], "null")


@dataclass
class Tick:
    seconds: float
    cpu: float
    requests: Counter[str]


@dataclass
class Run:
    """One program size on one calendar provider: the first booking, the echo poll, the steady polls."""

    people: int
    windows: int
    series: int
    overrides: int
    ticks: list[Tick]

    @property
    def steady(self) -> Tick:
        """The steady polls as one: the fastest time, and the requests of the one that asked the most."""
        polls = self.ticks[2:]
        most = max(polls, key=lambda tick: sum(tick.requests.values()))
        return Tick(min(tick.seconds for tick in polls), min(tick.cpu for tick in polls), most.requests)

    @property
    def freebusy_goal(self) -> int:
        return self.windows * math.ceil(self.people / MAX_CALENDARS)

    @property
    def steady_goal(self) -> Counter[str]:
        return Counter({"events.list": 1, "freebusy.query": self.freebusy_goal})

    @property
    def booking_floor(self) -> int:
        return len(ROLES) + self.freebusy_goal + 1 + self.series + self.overrides


def measure(teams: int, members: int, busy: int, seed: int, page_size: int, calendar: str, steady: int) -> Run:
    """Ticks of every job for a program of `teams` teams, its calendar `calendar` (google, local or null): the
    first booking, the echo poll, `steady` steady polls."""
    with tempfile.TemporaryDirectory(prefix="bench-google-") as scratch, FakeGoogle(page_size=page_size) as fake:
        folder = Path(scratch)
        oauth = FakeOAuth(fake)
        oauth.users.add(ORGANIZER)
        account = oauth.add_service_account(delegated=[s for role in ROLES for s in ROLE_SCOPES[role]])
        oauth.key_file(folder / "key.json", account)
        FakeCalendar(fake)
        freebusy = FakeFreeBusy(fake)
        google = (f"{{provider: google, api_root: '{fake.base_url}', "
                  f"auth: {{service_account_key: key.json, token_uri: '{fake.token_uri}'}}}}")
        text = program_text(teams, members, google if calendar == "google" else "{provider: local}", google)
        cfg = load_config_text(text, folder / "bench.yaml")
        fill(freebusy, cfg, busy, random.Random(seed))
        now = datetime.combine(STARTS - timedelta(days=14), datetime.min.time(), UTC)
        program = open_program(cfg, folder / "state", VirtualClock(now))
        if calendar == "null":
            program.calendar = NullCalendar()
        try:
            runner = JobRunner(program, program_jobs(program, Executor(program)))
            ticks = []
            for _ in range(2 + steady):
                fake.clear_log()
                started, cpu = time.perf_counter(), time.process_time()
                for job in runner.jobs:
                    if runner.run(job, now) is None:
                        raise SystemExit(f"job {job.name} failed for {teams} teams on the {calendar} calendar")
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
                ticks.append(Tick(seconds, cpu, Counter(endpoint(r.method, r.path) for r in fake.requests())))
                now += timedelta(minutes=15)
            booked = observe(program.store, cfg.program.id).booked()
            window = busy_window(program)
        finally:
            program.close()
        return Run(len(cfg.people), math.ceil(window.duration / MAX_WINDOW), len(booked),
                   sum(len(wanted_overrides(series)) for series in booked), ticks)


def _counts(requests: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(requests.items())) or "none"


def _growth(values: list[float]) -> str:
    return " ".join(f"x{b / a:.2f}" if a else "-" for a, b in itertools.pairwise(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", default="5,10,20,40", help="program sizes, in teams")
    parser.add_argument("--members", type=int, default=5, help="coachees per team")
    parser.add_argument("--busy", type=int, default=250, help="meetings per person over the year")
    parser.add_argument("--page-size", type=int, default=250,
                        help="most items the fake puts in a list page (Google's default for events.list is 250)")
    parser.add_argument("--steady", type=int, default=3, help="steady polls per size (the fastest is timed)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    sizes = [int(t) for t in args.teams.split(",")]
    print(f"every job of the daemon, one tick each, on a Google calendar and Google free/busy (fake, loopback); "
          f"{args.members} coachees a team, {args.busy} meetings a person, list pages of {args.page_size}; "
          f"free/busy windows of {MAX_WINDOW.days} days, {MAX_CALENDARS} people a call")
    runs: dict[int, tuple[Run, Run, Run]] = {}
    for teams in sizes:
        runs[teams] = tuple(measure(teams, args.members, args.busy, args.seed, args.page_size, calendar, args.steady)  # type: ignore[assignment]
                            for calendar in ("google", "null", "local"))

    print("\nsteady poll (nothing changed): requests by endpoint against the goal")
    print(f"{'teams':>5} {'people':>6} {'series':>6}  {'measured':<36} {'goal':<36} {'met':>3} "
          f"{'google s':>8} {'cpu s':>6} {'floor cpu':>9} {'ratio':>5} {'local cpu':>9}")
    failed = False
    for teams in sizes:
        google, null, local = runs[teams]
        steady = google.steady
        met = steady.requests == google.steady_goal
        failed |= not met
        print(f"{teams:>5} {google.people:>6} {google.series:>6}  {_counts(steady.requests):<36} "
              f"{_counts(google.steady_goal):<36} {'yes' if met else 'NO':>3} {steady.seconds:>8.2f} "
              f"{steady.cpu:>6.2f} {null.steady.cpu:>9.2f} {steady.cpu / null.steady.cpu:>5.2f} "
              f"{local.steady.cpu:>9.2f}")

    print("\nfirst booking (first tick): requests against the floor (a write per series and per moved or "
          "cancelled occurrence, one list, free/busy, tokens); time against the same tick on a calendar that "
          "does nothing")
    print(f"{'teams':>5} {'series':>6} {'overrides':>9} {'requests':>8} {'floor':>5} {'ratio':>5} "
          f"{'google s':>8} {'cpu s':>6} {'floor cpu':>9} {'ratio':>5} {'local cpu':>9}  by endpoint")
    for teams in sizes:
        google, null, local = runs[teams]
        first = google.ticks[0]
        total = sum(first.requests.values())
        print(f"{teams:>5} {google.series:>6} {google.overrides:>9} {total:>8} {google.booking_floor:>5} "
              f"{total / google.booking_floor:>5.2f} {first.seconds:>8.2f} {first.cpu:>6.2f} {null.ticks[0].cpu:>9.2f} "
              f"{first.cpu / null.ticks[0].cpu:>5.2f} {local.ticks[0].cpu:>9.2f}  {_counts(first.requests)}")

    print("\necho poll (the tick after the booking: coachd's own writes read back once)")
    print(f"{'teams':>5} {'series':>6} {'requests':>8} {'google s':>8} {'cpu s':>6}  by endpoint")
    for teams in sizes:
        google = runs[teams][0]
        echo = google.ticks[1]
        print(f"{teams:>5} {google.series:>6} {sum(echo.requests.values()):>8} {echo.seconds:>8.2f} {echo.cpu:>6.2f}  "
              f"{_counts(echo.requests)}")

    if len(sizes) > 1:
        print(f"\ngrowth from one size to the next ({' -> '.join(str(t) for t in sizes)} teams)")
        google_runs = [runs[t][0] for t in sizes]
        rows = (
            ("people", [r.people for r in google_runs]),
            ("series", [r.series for r in google_runs]),
            ("steady poll requests", [sum(r.steady.requests.values()) for r in google_runs]),
            ("steady poll s", [r.steady.seconds for r in google_runs]),
            ("steady poll cpu s", [r.steady.cpu for r in google_runs]),
            ("first booking requests", [sum(r.ticks[0].requests.values()) for r in google_runs]),
            ("first booking s", [r.ticks[0].seconds for r in google_runs]),
            ("first booking cpu s", [r.ticks[0].cpu for r in google_runs]),
            ("echo poll requests", [sum(r.ticks[1].requests.values()) for r in google_runs]),
        )
        for name, values in rows:
            print(f"  {name:<24} {_growth([float(v) for v in values])}")
    print("\ngoal met: every steady poll is one events.list page and windows x ceil(people / 50) free/busy calls"
          if not failed else "\nGOAL MISSED: a steady poll made requests beyond the goal (see above)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
