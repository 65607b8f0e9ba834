"""Time the sponsor figures and charts of a large program's year (budget: 2 s per digest on 2 cores).

A generated program of --teams teams (a coach and --members coachees each) is booked for a year by
the planner, every held session gets feedback from most attendees and notes with actions from its
coach, and then every monthly digest's figures are computed and its email rendered with the charts.
Prints the booking size, the time per digest (figures, charts, render) and the ratio to the budget,
and the peak memory of the figures.
Run: .venv/bin/python benchmarks/bench_digest.py [--teams 20] [--members 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from coachd.mail import contexts  # noqa: E402
from coachd.config.loader import load_config_text  # noqa: E402
from coachd.model.actions import BookSeries, QueueMail  # noqa: E402
from coachd.model.observed import Booking, Observed, ReplyFact  # noqa: E402
from coachd.model.periods import digest_periods  # noqa: E402
from coachd.plan.planner import plan  # noqa: E402
from coachd.plan.series import attendee  # noqa: E402
from coachd.model.types import UTC, Role  # noqa: E402
from coachd.mail.compose import Composer  # noqa: E402
from coachd.reporting.figures import program_figures  # noqa: E402

BUDGET_SECONDS = 2.0
ZONES = ("America/Chicago", "Europe/London", "Europe/Berlin", "Asia/Kolkata", "America/New_York")


def config_text(teams: int, members: int) -> str:
    people = ["  - {id: sponsor, name: Sam Sponsor, email: sponsor@bench.example, timezone: America/New_York}"]
    team_lines = []
    for t in range(teams):
        zone = ZONES[t % len(ZONES)]
        people.append(f"  - {{id: coach{t}, name: Coach {t}, email: coach{t}@bench.example, timezone: {zone}}}")
        ids = []
        for m in range(members):
            ids.append(f"c{t}x{m}")
            people.append(f"  - {{id: c{t}x{m}, name: Coachee {t} {m}, email: c{t}x{m}@bench.example, "
                          f"timezone: {zone}}}")
        team_lines.append(f"  - {{id: team{t}, name: Team {t}, coach: coach{t}, members: [{', '.join(ids)}]}}")
    return f"""
program: {{id: bench, name: Bench Program, timezone: America/Chicago, starts: 2027-01-04, ends: 2027-12-17}}
organizer: {{name: Office, email: office@bench.example, calendar: {{provider: local}}, send: {{provider: file}},
            receive: {{provider: maildir}}}}
people:
{chr(10).join(people)}
sponsors: [sponsor]
teams:
{chr(10).join(team_lines)}
digest: {{every: monthly, coaching_target: 10%}}
"""


def year(cfg) -> Observed:
    result = plan(cfg, Observed(), datetime(2027, 1, 1, tzinfo=UTC), session_mail=False, program_mail=False)
    bookings = {a.series.spec.key: Booking(a.series, datetime(2027, 1, 1, tzinfo=UTC))
                for a in result.actions if isinstance(a, BookSeries)}
    replies = []
    for booking in bookings.values():
        spec = booking.series.spec
        for i, occurrence in enumerate(booking.series.occurrences()):
            after = occurrence.end + timedelta(hours=3)
            replies.append(ReplyFact("notes-request", occurrence.session_id, spec.host.person_id, after, None, {
                "actions": [{"owner": "A", "text": f"follow up {i}", "due": "2027-06-01"}],
                "done": [f"follow up {i - 1}"]}))
            for k, person in enumerate(spec.everyone()):
                if person.person_id != spec.host.person_id and (i + k) % 5:
                    replies.append(ReplyFact("feedback-request", occurrence.session_id, person.person_id, after,
                                             1 + (i + k) % 5, {"text": "fine"}))
    return Observed(bookings=bookings, replies=replies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--members", type=int, default=6)
    args = parser.parse_args()
    cfg = load_config_text(config_text(args.teams, args.members), ROOT / "bench.yaml")
    started = time.perf_counter()
    observed = year(cfg)
    booked = time.perf_counter() - started
    occurrences = sum(len(b.series.occurrences()) for b in observed.bookings.values())
    composer = Composer()
    sponsor = attendee(cfg, "sponsor", Role.SPONSOR)
    figures_times, digest_times = [], []
    periods = digest_periods(cfg)
    for index, (start, end) in enumerate(periods):
        now = end + timedelta(hours=8)
        began = time.perf_counter()
        program_figures(cfg, observed, start, end, now)
        figures_times.append(time.perf_counter() - began)
        mail = QueueMail("bench", "digest", sponsor, f"d{index}", now, period=(start, end))
        began = time.perf_counter()
        composer.render("digest", sponsor, contexts.build(cfg, observed, mail, now))
        digest_times.append(time.perf_counter() - began)
    # Memory in a pass of its own: tracing slows Python down several times over.
    tracemalloc.start()
    start, end = periods[-1]
    program_figures(cfg, observed, start, end, end + timedelta(hours=8))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(digest_times)
    print(f"program:               {args.teams} teams x {args.members} coachees, {len(observed.bookings)} series, "
          f"{occurrences} occurrences, {len(observed.replies)} replies (booked in {booked:.1f} s)")
    print(f"figures per digest:    median {statistics.median(figures_times):.2f} s, max {max(figures_times):.2f} s")
    print(f"digest with charts:    median {median:.2f} s, max {max(digest_times):.2f} s "
          f"({len(digest_times)} monthly digests)")
    print(f"peak traced memory:    {peak / 2**20:.0f} MB (figures of the last digest)")
    print(f"ratio to 2 s budget:   {median / BUDGET_SECONDS:.2f} (under 1.00 meets it)")


if __name__ == "__main__":
    main()
