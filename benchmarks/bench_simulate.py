"""Time `coachd simulate` on the example program over its first 12 weeks (budget: 30 s on 2 cores).

Prints the wall time, the simulated actions and emails per second, and the ratio to the budget.
Run: .venv/bin/python benchmarks/bench_simulate.py [--weeks 12]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.yaml"
PROGRAM_START = date(2027, 1, 4)
BUDGET_SECONDS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=12)
    args = parser.parse_args()
    until = PROGRAM_START + timedelta(weeks=args.weeks)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "coachd", "simulate", str(EXAMPLE), "--until", until.isoformat(),
                        "--out", out, "--log-level", "warning"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        actions = [json.loads(line) for line in (Path(out) / "actions.jsonl").read_text().splitlines()]
        emails = len(list((Path(out) / "mail").glob("*.eml")))
    print(f"simulated weeks:      {args.weeks}")
    print(f"wall time:            {elapsed:.1f} s")
    print(f"actions applied:      {len(actions)} ({len(actions) / elapsed:.0f}/s)")
    print(f"emails written:       {emails} ({emails / elapsed:.0f}/s)")
    print(f"ratio to 30 s budget: {elapsed / BUDGET_SECONDS:.2f} (under 1.00 meets it)")


if __name__ == "__main__":
    main()
