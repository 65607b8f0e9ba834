"""Share of the reply corpus whose kept text (quotes and signatures removed) matches what a person reads.

    .venv/bin/python benchmarks/bench_reply_text.py [--corpus tests/replies] [-v]

To compare with another version of the parser, run it with that version first on the path, e.g.
PYTHONPATH=/path/to/other/daemon .venv/bin/python benchmarks/bench_reply_text.py
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sys
import time
from pathlib import Path

from coachd.replies import reading


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).parents[1] / "tests" / "replies")
    parser.add_argument("-v", "--verbose", action="store_true", help="name each case that does not match")
    args = parser.parse_args(argv)
    cases = sorted(args.corpus.glob("*.json"))
    if not cases:
        print(f"no <name>.json cases in {args.corpus}", file=sys.stderr)
        return 2
    matched = 0
    started = time.perf_counter()
    for expected in cases:
        want = json.loads(expected.read_text(encoding="utf-8"))
        message = email.message_from_bytes(expected.with_suffix(".eml").read_bytes(), policy=email.policy.default)
        got = reading.new_text(reading.body_text(message))
        if _squeeze(got) == _squeeze(want["new_text"]):
            matched += 1
        elif args.verbose:
            print(f"differs: {expected.stem}")
    elapsed = time.perf_counter() - started
    print(f"parser: {Path(reading.__file__).parent}")
    print(f"kept text matches: {matched}/{len(cases)} = {matched / len(cases):.0%} ({elapsed * 1000:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
