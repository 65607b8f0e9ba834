"""`coachd simulate`: the daemon's own jobs on a virtual clock, writing what they did to files."""

from __future__ import annotations


import email.policy
import email.utils
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from email.parser import BytesHeaderParser
from pathlib import Path

from coachd.config import ProgramConfig
from coachd.model.types import UTC
from coachd.plan.planner import mail_lead
from coachd.runtime.clock import VirtualClock
from coachd.execute.executor import ActionRecord
from coachd.runtime.jobs import Job
from coachd.observe.observer import CLOCK_KEY
from coachd.providers.local.maildir import MaildirInbox
from coachd.runtime.runner import JobRunner

log = logging.getLogger("coachd.simulate")

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
    """Every reply in `folder`, in the order they arrive, and a line naming each file that cannot
    be delivered and why. Such a file is skipped: one bad file should neither stop a simulation
    nor vanish without a word. Hidden files (.DS_Store and the like) are not replies."""
    try:
        entries = sorted(path for path in folder.iterdir() if not path.name.startswith("."))
    except OSError as error:
        raise SimulationError(f"--replies {folder}: cannot read the folder ({error.strerror or error})") from error
    deliveries: list[Delivery] = []
    problems: list[str] = []
    for path in entries:
        if path.name.startswith(".") or path.stem.upper() == "README":
            continue  # notes beside the replies (a README, an editor's swap file) are not mail
        outcome = _delivery(path)
        if isinstance(outcome, Delivery):
            deliveries.append(outcome)
        else:
            problems.append(f"{path}: {outcome}; skipped")
    return sorted(deliveries, key=lambda d: (d.at, d.name)), problems


def _delivery(path: Path) -> Delivery | str:
    """The reply in the file at `path`, or why it cannot be delivered."""
    if path.is_dir():
        return "a folder (replies are read from the --replies folder itself, not from folders in it)"
    if path.suffix.lower() != ".eml":
        return "not an .eml file (only .eml files are delivered as replies)"
    try:
        raw = path.read_bytes()
    except OSError as error:
        return f"cannot read it ({error.strerror or error})"
    at = _arrival(raw)
    return Delivery(at, path.name, raw) if isinstance(at, datetime) else at


def _arrival(raw: bytes) -> datetime | str:
    """When the message in `raw` arrives (its Date, with its zone), or why it cannot be told.

    Only the headers are read, as plain strings, so that a bad header is a reason to give rather
    than an exception from deep inside the email package."""
    headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    if headers.get("From") is None and headers.get("Date") is None:
        return "not an email message (no From or Date header, which RFC 5322 requires)"
    header = headers.get("Date")
    if header is None:
        return "no Date header (each reply is delivered at its Date)"
    value = " ".join(str(header).split())
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return f"its Date header {value!r} is not a date (like 'Tue, 05 Jan 2027 10:00:00 -0300')"
    if at.tzinfo is None:
        return f"its Date header {value!r} has no time zone (like -0300 or +0100)"
    return at


class ActionsFile:
    """DIR/actions.jsonl: one applied action per line, appended across resumed runs."""

    def __init__(self, path: Path) -> None:
        self.handle = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a", encoding="utf-8")

    def __call__(self, record: ActionRecord) -> None:
        self.handle.write(json.dumps(record.as_json(), default=str, sort_keys=True) + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def simulation_start(cfg: ProgramConfig, from_day: date | None = None) -> datetime:
    """Where the virtual clock starts: midnight of `from_day` (`--from`) in the program's zone; by default
    before the program's first day, by its notice period or the lead of the mail sent ahead of a session,
    whichever is longer.

    The planner books nothing sooner than `scheduling.notice` from now. A simulation started at the first
    day's midnight would push the kickoffs days past the first day, while `coachd plan`, run before the
    program as an admin runs it, books them on the first day: the same config showed two programs. A
    daemon started one notice period early books what `plan` shows; one started `mail_lead` early also
    sends the first sessions' agendas when they fall due (in their readers' working hours) rather than
    late, all at once at the start.
    """
    zone = cfg.program.zone
    if from_day is not None:
        return datetime.combine(from_day, time(0), zone).astimezone(UTC)
    lead = max(cfg.scheduling.notice, mail_lead(cfg))
    return (datetime.combine(cfg.program.starts, time(0), zone) - lead).astimezone(UTC)


def run_simulation(runner: JobRunner, clock: VirtualClock, until: datetime, deliveries: list[Delivery],
                   progress: Callable[[datetime], None] | None = None) -> None:
    """Advance the virtual clock to `until`, running each job when it is due.

    A job is due at its interval, or earlier where it said when its next work
    falls due; after any job changed something, every job runs again at the
    same instant, so mail queued by the planner is sent without waiting.
    """
    program = runner.program
    inbox = program.inbox
    # `simulate` runs on the embedded providers (open_program(embedded=True)): the scripted replies
    # are delivered into its maildir, which is no part of the Inbox role.
    if not isinstance(inbox, MaildirInbox):
        raise SimulationError(f"replies are delivered into the embedded maildir inbox, not {type(inbox).__name__}")
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
