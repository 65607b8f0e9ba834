"""Time placing one weekly group series for 20 attendees in 8 zones over a year, 3,000 busy intervals each.

The floor, measured in the same run on the same data: sorting and merging every attendee's busy intervals,
the least any placement must do to know when people are free. Prints both, the ratio (target under 3) and
whether the placement met the 100 ms target. Setup (the config, the busy intervals, the planner's
timelines) is not timed; each figure is the best of --repeat runs.
Run: .venv/bin/python benchmarks/bench_slots.py [--repeat 5] [--busy 3000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

from coachd.config import ProgramConfig, load_config_text
from coachd.model.intervals import merge
from coachd.model.types import Interval
from coachd.plan import series
from coachd.plan.series import Unplaced

ZONES = ("America/Los_Angeles", "America/New_York", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
         "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney")
ATTENDEES = 20
STARTS, ENDS = date(2027, 1, 4), date(2027, 12, 31)
TARGET_MS = 100.0
TARGET_RATIO = 3.0


def program_config() -> ProgramConfig:
    """One coach and 19 members, spread over the 8 zones, in one team that meets weekly as a group."""
    people = [f"  - {{id: p{n:02d}, name: Person {n}, email: p{n:02d}@bench.example, timezone: {ZONES[n % len(ZONES)]}}}"
              for n in range(ATTENDEES)]
    members = ", ".join(f"p{n:02d}" for n in range(1, ATTENDEES))
    text = "\n".join([
        f"program: {{id: bench, name: Bench, timezone: Europe/London, starts: {STARTS}, ends: {ENDS}}}",
        "organizer: {name: Office, email: office@bench.example}",
        "people:", *people,
        "  - {id: spon, name: Sponsor, email: spon@bench.example, timezone: Europe/London}",
        "sponsors: [spon]",
        f"teams:\n  - {{id: t, name: Team, coach: p00, members: [{members}]}}",
    ])
    return load_config_text(text, ROOT / "benchmarks" / "bench.yaml")


def busy_intervals(cfg: ProgramConfig, people: Sequence[str], count: int,
                   rng: random.Random) -> dict[str, list[Interval]]:
    """`count` meetings of 15 minutes to 2 hours per person, at random over the program, unsorted."""
    horizon = series.program_horizon(cfg)
    span = int((horizon.end - horizon.start).total_seconds() // 60)
    busy: dict[str, list[Interval]] = {}
    for person_id in people:
        spans = []
        for _ in range(count):
            start = horizon.start + timedelta(minutes=rng.randrange(0, span // 15) * 15)
            spans.append(Interval(start, start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90, 120)))))
        busy[person_id] = spans
    return busy


def best_of(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--busy", type=int, default=3000, help="busy intervals per attendee")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cfg = program_config()
    group = next(need for need in series.needs(cfg) if need.key.startswith("group"))
    busy = busy_intervals(cfg, [a.person_id for a in group.everyone()], args.busy, random.Random(args.seed))
    now = datetime.combine(STARTS - timedelta(days=14), datetime.min.time(), UTC)

    floor, _ = best_of(args.repeat, lambda: [merge(spans) for spans in busy.values()])

    def place() -> object:
        # The timelines are rebuilt in every run: the planner builds them from the stored busy times each tick.
        timelines = series.timelines_for(cfg, busy, [])
        return series.place(cfg, group, timelines, [], now)

    placing, booked = best_of(args.repeat, place)
    if isinstance(booked, Unplaced):
        raise SystemExit(f"the group series was not placed: {booked.reason}")
    ratio = placing / floor
    intervals = sum(len(spans) for spans in busy.values())
    print(f"attendees:                 {len(group.everyone())} in {len(ZONES)} zones, {STARTS} to {ENDS}")
    print(f"busy intervals:            {intervals:,} ({args.busy:,} each)")
    print(f"occurrences placed:        {len(booked.occurrences())}, first {booked.spec.start.isoformat()}")
    print(f"floor (sort + merge busy): {floor * 1000:.1f} ms")
    print(f"place the weekly series:   {placing * 1000:.1f} ms "
          f"({'meets' if placing * 1000 < TARGET_MS else 'misses'} the {TARGET_MS:.0f} ms target)")
    print(f"ratio to the floor:        {ratio:.2f} ({'meets' if ratio < TARGET_RATIO else 'misses'} the "
          f"target of {TARGET_RATIO:.0f})")


if __name__ == "__main__":
    main()
