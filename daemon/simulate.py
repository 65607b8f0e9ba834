"""`coachd simulate`: the daemon's own jobs on a virtual clock, writing what they did to files."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from daemon.clock import VirtualClock
from daemon.executor import ActionRecord
from daemon.jobs import Job
from daemon.runner import JobRunner

log = logging.getLogger("coachd.simulate")

CLOCK_KEY = "simulation_clock"
# Bound on reruns within one virtual instant: jobs that keep reporting changes are a bug, not a loop.
MAX_PASSES = 6


@dataclass(frozen=True)
class Delivery:
    at: datetime
    name: str
    raw: bytes


class SimulationError(Exception):
    pass


def load_replies(folder: Path) -> tuple[list[Delivery], list[str]]:
    """Every .eml in `folder` with a valid Date header, in the order they arrive, and a line per
    file that cannot be delivered (unreadable, or no date with a zone), which is skipped."""
    deliveries = []
    problems = []
    for path in sorted(folder.glob("*.eml")):
        try:
            raw = path.read_bytes()
        except OSError as error:
            problems.append(f"{path}: cannot read it ({error.strerror or error}); skipped")
            continue
        try:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            date_header = message.get("Date")
            at = email.utils.parsedate_to_datetime(str(date_header)) if date_header else None
        except (TypeError, ValueError, IndexError):
            at = None
        if at is None or at.tzinfo is None:
            problems.append(f"{path}: no usable Date header (a date with a zone, as RFC 5322 has it); skipped")
            continue
        deliveries.append(Delivery(at, path.name, raw))
    return sorted(deliveries, key=lambda d: (d.at, d.name)), problems


class ActionsFile:
    """DIR/actions.jsonl: one applied action per line, appended across resumed runs."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("a", encoding="utf-8")

    def __call__(self, record: ActionRecord) -> None:
        self.handle.write(json.dumps(record.as_json(), default=str, sort_keys=True) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def run_simulation(runner: JobRunner, clock: VirtualClock, until: datetime, deliveries: list[Delivery],
                   progress: Callable[[datetime], None] | None = None) -> None:
    """Advance the virtual clock to `until`, running each job when it is due.

    A job is due at its interval, or earlier where it said when its next work
    falls due; after any job changed something, every job runs again at the
    same instant, so mail queued by the planner is sent without waiting.
    """
    program = runner.program
    inbox = program.inbox
    pending = [d for d in deliveries if d.at > clock.now()]
    next_run: dict[str, datetime] = {job.name: clock.now() for job in runner.jobs}
    while True:
        now = clock.now()
        while pending and pending[0].at <= now:
            delivery = pending.pop(0)
            inbox.deliver(delivery.raw, delivery.name)
            next_run["inbox"] = now
        due = [job for job in runner.jobs if next_run[job.name] <= now]
        anything_changed = False
        for _ in range(MAX_PASSES):
            if not due:
                break
            changed = False
            for job in due:
                outcome = runner.run(job, now)
                next_run[job.name] = _next(job, now, outcome.next_due if outcome else None)
                changed |= bool(outcome and outcome.changed)
            anything_changed |= changed
            due = list(runner.jobs) if changed else []
        # The resume point only needs to move when something happened: resuming from an
        # earlier quiet instant repeats nothing, since every action is keyed.
        if anything_changed or now >= until:
            program.set_meta(CLOCK_KEY, now.isoformat())
        if progress:
            progress(now)
        if now >= until:
            return
        upcoming = [*next_run.values(), until]
        if pending:
            upcoming.append(pending[0].at)
        clock.advance_to(max(now, min(upcoming)))


def _next(job: Job, now: datetime, hint: datetime | None) -> datetime:
    return hint if hint is not None and hint > now else now + job.interval


def resume_point(runner: JobRunner) -> datetime | None:
    value = runner.program.get_meta(CLOCK_KEY)
    return datetime.fromisoformat(value) if isinstance(value, str) else None
