"""Google requests per busy-times pass of the daemon's sync job, against the local fake (issue 17 point 10).

The free/busy part of the benchmark: programs of 5 to 80 teams (a coach and --members coachees each, a
sponsor), every person in the Workspace with --busy meetings over the year. Each size runs the real sync
job's busy pass (observe/calendar_sync.py: ask_within_limits over Google free/busy joined with people's
own feeds, storing what changed) twice: the first pass stores everyone's busy times, the second is the
steady state (nothing changed). Counted in the fake's request log: freebusy.query calls per pass, against
the goal of ceil(people / 50) calls per 90-day window of the busy window (the program, a week either
side). Timed: each pass, through the real client library over loopback HTTP.

Not measured here: the calendar's own requests (events.list pages per poll, the first full booking),
which need the Google calendar provider; they join this script when it is on main.
Run: .venv/bin/python benchmarks/bench_google_sync.py [--teams 5,10,20,40,80] [--members 5] [--busy 250]
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT))

from google.oauth2.credentials import Credentials

from coachd.config import ProgramConfig, load_config_text
from coachd.execute.executor import Executor
from coachd.observe.busy import everyone, own_busy
from coachd.observe.calendar_sync import CalendarSync, busy_window
from coachd.providers.busy import CombinedBusy
from coachd.providers.google.busy import FREEBUSY_SCOPE, MAX_CALENDARS, MAX_WINDOW, GoogleBusy
from coachd.providers.retry import RetryPolicy
from coachd.runtime import wiring
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.freebusy import FakeFreeBusy

ZONES = ("America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
         "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney")
STARTS, ENDS = date(2027, 1, 4), date(2027, 12, 17)


def program_config(teams: int, members: int, folder: Path) -> ProgramConfig:
    people, lines = [], []
    for t in range(teams):
        coach = f"c{t:03d}"
        team = [f"m{t:03d}x{n}" for n in range(members)]
        people += [coach, *team]
        lines.append(f"  - {{id: t{t:03d}, name: Team {t}, coach: {coach}, members: [{', '.join(team)}]}}")
    rows = [f"  - {{id: {p}, name: {p}, email: {p}@bench.example, timezone: {ZONES[n % len(ZONES)]}}}"
            for n, p in enumerate(people)]
    text = "\n".join([
        f"program: {{id: bench-{teams}, name: Bench, timezone: Europe/London, starts: {STARTS}, ends: {ENDS}}}",
        "organizer: {name: Office, email: office@bench.example}",
        "people:", *rows,
        "  - {id: spon, name: Sponsor, email: spon@bench.example, timezone: Europe/London}",
        "sponsors: [spon]",
        "teams:", *lines,
    ])
    return load_config_text(text, folder / "bench.yaml")


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


def measure(teams: int, members: int, busy: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-google-") as scratch, FakeGoogle() as fake:
        folder = Path(scratch)
        cfg = program_config(teams, members, folder)
        freebusy = FakeFreeBusy(fake)
        fill(freebusy, cfg, busy, random.Random(seed))

        def google_busy(cfg: ProgramConfig, state_dir: Path, *, embedded: bool = False):  # type: ignore[no-untyped-def]
            own, _ = own_busy(cfg)
            token = fake.issue_access_token(str(cfg.organizer.email), [FREEBUSY_SCOPE])
            provider = GoogleBusy(Credentials(token=token), api_root=fake.base_url, timeout=30,
                                  policy=RetryPolicy(sleep=lambda _: None))
            return CombinedBusy(provider, own), everyone(cfg)

        wiring.build_busy = google_busy  # as `busy: {provider: google}` builds it once wired
        now = datetime.combine(STARTS, datetime.min.time(), UTC)
        program = open_program(cfg, folder / "state", VirtualClock(now))
        try:
            sync = CalendarSync(program, Executor(program))
            timings = []
            calls = []
            for _ in range(2):
                fake.clear_log()
                started = time.perf_counter()
                sync.run(now)
                timings.append(time.perf_counter() - started)
                calls.append(len(fake.requests("/calendar/v3/freeBusy", "POST")))
            window = busy_window(program)
        finally:
            program.close()
        windows = math.ceil(window.duration / MAX_WINDOW)
        people = len(cfg.people)
        return {"teams": teams, "people": people, "first_calls": calls[0], "steady_calls": calls[1],
                "goal": windows * math.ceil(people / MAX_CALENDARS), "windows": windows,
                "first_s": timings[0], "steady_s": timings[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", default="5,10,20,40,80", help="program sizes, in teams")
    parser.add_argument("--members", type=int, default=5, help="coachees per team")
    parser.add_argument("--busy", type=int, default=250, help="meetings per person over the year")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"busy pass of the sync job on Google free/busy (fake, loopback); {args.members} coachees a team, "
          f"{args.busy} meetings a person; windows of {MAX_WINDOW.days} days, {MAX_CALENDARS} people a call")
    print(f"{'teams':>5} {'people':>6} {'windows':>7} {'calls/poll':>10} {'goal':>5} {'first pass s':>12} "
          f"{'steady pass s':>13} {'ms/person':>9}")
    failed = False
    for teams in (int(t) for t in args.teams.split(",")):
        row = measure(teams, args.members, args.busy, args.seed)
        failed |= row["steady_calls"] > row["goal"]
        print(f"{row['teams']:>5} {row['people']:>6} {row['windows']:>7} {row['steady_calls']:>10} {row['goal']:>5} "
              f"{row['first_s']:>12.2f} {row['steady_s']:>13.2f} {1000 * row['steady_s'] / row['people']:>9.1f}")
    print("goal met: calls per steady poll = windows x ceil(people / 50)" if not failed else
          "GOAL MISSED: more free/busy calls per poll than windows x ceil(people / 50)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
