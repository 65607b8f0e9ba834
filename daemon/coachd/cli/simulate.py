"""`coachd simulate` as a person sees it: progress on a terminal, then a one-screen summary."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coachd.runtime.clock import VirtualClock
from coachd.config import ProgramConfig
from coachd.model.types import UTC
from coachd.execute.executor import Executor
from coachd.runtime.jobs import program_jobs
from coachd.runtime.wiring import ProgramRuntime, open_program
from coachd.runtime.runner import JobRunner
from coachd.runtime.simulator import (ActionsFile, Delivery, SimulationError, load_replies, resume_point,
                                     run_simulation, simulation_start)
from coachd.store import job_runs_repo, outbox_repo, replies_repo, series_repo


def run_simulate_command(console: Console, cfg: ProgramConfig, out: Path, until_day: date,
                         start_day: date | None, replies: Path | None, errors: Console | None = None) -> None:
    errors = errors or console
    zone = cfg.program.zone
    until = datetime.combine(until_day, time(0), zone).astimezone(UTC)
    first_day = start_day or cfg.program.starts
    first = simulation_start(cfg, start_day)
    if until_day <= first_day:
        what = "--from" if start_day else "the program's start"
        raise SimulationError(f"--until {until_day.isoformat()} is not after {what} ({first_day.isoformat()})")
    deliveries, problems = load_replies(replies) if replies else ([], [])
    for problem in problems:
        errors.print(f"[yellow]warning:[/] {escape(problem)}", highlight=False)
    clock = VirtualClock(first)
    program = open_program(cfg, out, clock, embedded=True)
    actions = ActionsFile(out / "actions.jsonl")
    try:
        executor = Executor(program, actions)
        runner = JobRunner(program, program_jobs(program, executor))
        resumed = resume_point(runner)
        if resumed is not None and resumed > first:
            clock.advance_to(resumed)
        if clock.now() >= until:
            console.print(f"Nothing to simulate: {out} is already at {clock.now().astimezone(zone):%Y-%m-%d %H:%M %Z}.")
        else:
            _with_progress(console, runner, clock, until, deliveries, resumed)
        console.print(summary_table(program, first if resumed is None else resumed, until))
    finally:
        actions.close()
        program.close()


def _with_progress(console: Console, runner: JobRunner, clock: VirtualClock, until: datetime,
                   deliveries: list[Delivery], resumed: datetime | None) -> None:
    start = clock.now()
    if resumed is not None:
        console.print(f"Resuming at {start.astimezone(runner.program.cfg.program.zone):%Y-%m-%d %H:%M %Z}.")
    if not console.is_terminal:
        run_simulation(runner, clock, until, deliveries)
        return
    total = (until - start).total_seconds()
    columns = (TextColumn("[bold]simulating[/]"), BarColumn(), TextColumn("{task.description}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=total)
        zone = runner.program.cfg.program.zone

        def report(now: datetime) -> None:
            progress.update(task, completed=(now - start).total_seconds(),
                            description=f"{now.astimezone(zone):%a %Y-%m-%d %H:%M}")

        run_simulation(runner, clock, until, deliveries, report)


def summary_table(program: ProgramRuntime, start: datetime, until: datetime) -> Table:
    """Series booked, occurrences, emails by kind and replies: what this simulation did."""
    pid = program.id
    zone = program.cfg.program.zone
    with program.store.session() as db:
        series = series_repo.kind_counts(db, pid)
        sessions_total = series_repo.session_count(db, pid)
        sessions_held = series_repo.held_count(db, pid, until)
        mail = outbox_repo.kind_status_counts(db, pid)
        replies = replies_repo.status_counts(db, pid)
        failures = job_runs_repo.failure_count(db, pid)
    table = Table(title=f"{program.cfg.program.name}: simulated to {until.astimezone(zone):%Y-%m-%d}",
                  show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for kind, count in sorted(series.items()):
        table.add_row(f"series booked: {kind}", str(count))
    table.add_row("occurrences booked (whole program)", str(sessions_total))
    table.add_row("occurrences held by the end of the run", str(sessions_held))
    kinds = sorted({kind for kind, _ in mail})
    for kind in kinds:
        sent, queued, failed = mail[(kind, "sent")], mail[(kind, "queued")], mail[(kind, "failed")]
        extra = "".join(f", {n} {label}" for n, label in ((queued, "queued"), (failed, "failed")) if n)
        table.add_row(f"emails: {kind}", f"{sent}{extra}")
    table.add_row("emails sent in all", str(sum(n for (_, status), n in mail.items() if status == "sent")))
    for status, count in sorted(replies.items()):
        table.add_row(f"replies: {status}", str(count))
    if failures:
        table.add_row("[red]job failures (see coachd status)[/]", str(failures))
    return table
