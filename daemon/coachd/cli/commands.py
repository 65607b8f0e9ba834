"""The `coachd` command line."""

from __future__ import annotations

import itertools
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from coachd.runtime.clock import Clock
from coachd.config import ConfigError, Problem, ProgramConfig, load_config
from coachd.config.yamltree import Document
from coachd.runtime.logs import setup_logging
from coachd.runtime.wiring import ProgramRuntime, default_state_dir
from coachd.cli.kind_choice import KindChoice
from coachd.model.mail_kinds import EXPECTS_ANSWER, MailKind

console = Console()
# Errors are never wrapped: admins grep them and paste them into tickets.
err_console = Console(stderr=True, soft_wrap=True)

# Exit codes (README, "Exit codes"): 2 for what a person must fix (systemd does not restart it,
# RestartPreventExitStatus=2); 75 (EX_TEMPFAIL, sysexits.h) for what may pass by itself, which
# systemd restarts after RestartSec.
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75
# Enough to fix a file by; a file with thousands of mistakes is the wrong file, not thousands of fixes.
SHOWN_PROBLEMS = 50


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def load_or_exit(path: Path) -> ProgramConfig:
    """Load the config, or list every problem in it and exit 2."""
    try:
        return load_config(path)
    except ConfigError as error:
        count = len(error.problems)
        err_console.print(f"[bold red]{error.file}[/]: {count} problem{'s' if count != 1 else ''}", highlight=False)
        for problem in error.problems[:SHOWN_PROBLEMS]:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        if count > SHOWN_PROBLEMS:
            err_console.print(f"  ... and {count - SHOWN_PROBLEMS} more", highlight=False, markup=False)
        sys.exit(EXIT_USAGE)


config_argument = click.argument("config", type=click.Path(path_type=Path, dir_okay=False))
state_option = click.option("--state", "state", type=click.Path(path_type=Path, file_okay=False),
                            help="State directory (database, secret, local calendar, mail). "
                                 "Default: $STATE_DIRECTORY under systemd, else ./var.")
log_option = click.option("--log-level", default="info", show_default=True,
                          type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))


def state_dir(state: Path | None) -> Path:
    return state if state is not None else default_state_dir()


def parse_day(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{what}: expected a date like 2027-03-29, got {value!r}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="coachd")
def main() -> None:
    """coachd books coaching sessions and sends their email, for a program described in one YAML file."""


@main.command()
@config_argument
@state_option
@click.option("--online", is_flag=True,
              help="Also connect to the cloud providers as `run` would and report what works, one line each.")
def check(config: Path, state: Path | None, online: bool) -> None:
    """Validate CONFIG, its templates and its providers; exit 2 listing every problem."""
    from coachd.config import summary_text
    from coachd.mail import Composer
    from coachd.providers.google.family import google_sections
    from coachd.providers.microsoft.family import microsoft_sections
    from coachd.runtime.wiring import provider_problems

    cfg = load_or_exit(config)
    # What `run` would refuse is a problem here, not at start-up; the two lists are told apart
    # because a provider problem does not stop `simulate`, which runs on the embedded ones.
    refused = provider_problems(cfg)
    if google_sections(cfg.organizer):
        from coachd.providers.google.online_check import auth_problems

        # The factories check these files too; said once when both do.
        refused += [problem for problem in auth_problems(cfg) if problem not in refused]
    if microsoft_sections(cfg.organizer):
        from coachd.providers.microsoft.online_check import auth_problems as microsoft_auth_problems

        refused += [problem for problem in microsoft_auth_problems(cfg) if problem not in refused]
    folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    template_problems = Composer(folder).check()
    # Every list names the file as the loader's problems do (its absolute path) and each field with its line.
    source = cfg.source
    doc = _config_lines(source)
    if refused:
        print_problems(f"{source}: {len(refused)} problem(s) `coachd run` would refuse "
                       "(`coachd simulate` runs on the embedded providers whatever the config names)",
                       [str(Problem(field, message, doc.line_of(tuple(field.split("."))))) for field, message in refused])
    if template_problems:
        print_problems(f"{source}: {len(template_problems)} template problem(s)", template_problems)
    online_failed = online and not online_check(cfg, state_dir(state))
    if refused or template_problems or online_failed:
        sys.exit(EXIT_USAGE)
    console.print(summary_text(cfg), highlight=False, markup=False)
    console.print("OK: the config is valid.", style="green")
    # After the summary, and not failing: admins run `check` before a restart (and CI may), and one
    # person's unreadable busy file must not keep the daemon from running for everyone else.
    warnings = busy_file_warnings(doc, cfg)
    if warnings:
        print_warnings(f"{source}: {len(warnings)} warning(s): `coachd run` starts, and books nothing over these "
                       "people until their busy times can be read", warnings)
    # Nobody's hours meet: valid, and bookable, but someone works late every week; say so before it starts.
    apart = shared_hours_warnings(cfg)
    if apart:
        print_warnings(f"{source}: {len(apart)} warning(s): series whose people share no working hour "
                       "(booked anyway, out of someone's hours; from working hours and days alone)", apart)


def online_check(cfg: ProgramConfig, state: Path) -> bool:
    """`check --online`: one line per check of each cloud provider, as it is done; False on any failure."""
    from coachd.providers.google.family import google_sections
    from coachd.providers.microsoft.family import microsoft_sections

    checks = []
    # Each family's checks are imported only when the config names it: they import its libraries.
    if google_sections(cfg.organizer):
        from coachd.providers.google.online_check import online_checks

        checks.append(online_checks(cfg, state))
    if microsoft_sections(cfg.organizer):
        from coachd.providers.microsoft.online_check import online_checks as microsoft_checks

        checks.append(microsoft_checks(cfg, state))
    if not checks:
        console.print("online: no cloud provider in the config; nothing to connect to", highlight=False,
                      markup=False)
        return True
    ok = True
    for line in itertools.chain.from_iterable(checks):
        ok &= line.ok
        click.echo(f"online: {line}", err=not line.ok)
    return ok


def shared_hours_warnings(cfg: ProgramConfig) -> list[str]:
    """Series whose people's working hours never meet in some weeks, with the minutes and who carries them."""
    from coachd.plan.shared_hours import no_shared_hours

    return [found.describe() for found in no_shared_hours(cfg)]


def _config_lines(source: Path) -> Document:
    """The config file's keys and their lines (the file loaded already: it reads)."""
    from coachd.config.yamltree import read_yaml

    return read_yaml(source.read_bytes().decode("utf-8-sig"))


def busy_file_warnings(doc: Document, cfg: ProgramConfig) -> list[str]:
    """Busy files that cannot be read now, each with the config line that names it."""
    from coachd.config.checks import busy_warnings
    from coachd.config.problems import dotted

    found = []
    for path, message in busy_warnings(doc.data, cfg.base_dir):
        person = cfg.people[path[1]].id if isinstance(path[1], int) and path[1] < len(cfg.people) else "?"
        found.append(str(Problem(dotted(path), f"{message}; busy times of {person} unknown", doc.line_of(path))))
    return found


def print_warnings(title: str, warnings: list[str]) -> None:
    err_console.print(title, style="bold yellow", highlight=False, markup=False)
    for warning in warnings:
        err_console.print(f"  warning: {warning}", highlight=False, markup=False)


def print_problems(title: str, problems: list[str]) -> None:
    err_console.print(title, style="bold red", highlight=False, markup=False)
    for problem in problems[:SHOWN_PROBLEMS]:
        err_console.print(f"  {problem}", highlight=False, markup=False)
    if len(problems) > SHOWN_PROBLEMS:
        err_console.print(f"  ... and {len(problems) - SHOWN_PROBLEMS} more", highlight=False, markup=False)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the config file."""
    click.echo(json.dumps(ProgramConfig.json_schema(), indent=2))


@main.command()
@config_argument
@state_option
@click.option("--at", "at", help="Plan as of this date (default: now).")
@click.option("--occurrences", default=3, show_default=True, help="Occurrences shown per series.")
def plan(config: Path, state: Path | None, at: str | None, occurrences: int) -> None:
    """Dry run: each series, its first occurrences in every attendee's zone, conflicts and burden."""
    from coachd.reporting.dry_run import show_plan

    cfg = load_or_exit(config)
    day = parse_day(at, "--at")
    now = datetime.combine(day, time(9), cfg.program.zone) if day else None
    with state_errors_exit():
        show_plan(console, cfg, state_dir(state), now, occurrences)


@main.command()
@config_argument
@state_option
@log_option
def run(config: Path, state: Path | None, log_level: str) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    from coachd.runtime.clock import SystemClock
    from coachd.runtime.sender_process import MailDispatcher
    from coachd.execute.executor import Executor
    from coachd.runtime.jobs import JobOutcome, program_jobs
    from coachd.runtime.runner import Daemon, JobRunner
    from coachd.runtime.systemd_notify import Notifier

    setup_logging(log_level)
    cfg = load_or_exit(config)
    exit_on_template_problems(cfg, config)
    refuse_a_simulation(cfg, state_dir(state))
    program = open_or_exit(cfg, state_dir(state), SystemClock())
    # Started after the store is open (and migrated): the sender opens the same store.
    sender = MailDispatcher(cfg, program.state_dir, cfg.daemon.send, log_level)
    executor = Executor(program, sender.on_action)

    def watch_sender(now: datetime) -> JobOutcome:
        sender.watch(now)
        return JobOutcome()

    notifier = Notifier()
    try:
        sender.start()
        Daemon(JobRunner(program, program_jobs(program, executor, send=watch_sender)), notifier).serve()
    finally:
        notifier.status("stopping the mail sender")
        sender.stop()
        program.close()
        notifier.close()
    _exit_if_threads_linger()


def exit_on_template_problems(cfg: ProgramConfig, config: Path) -> None:
    """What `check` finds in the templates stops `run` too, with exit 2 from the main process: systemd's
    RestartPreventExitStatus= applies to it (never to an ExecStartPre=), so a mistake is not restarted."""
    from coachd.mail import Composer

    folder = cfg.resolve(cfg.templates.folder) if cfg.templates.folder else None
    problems = Composer(folder).check()
    if problems:
        print_problems(f"{config}: {len(problems)} template problem(s)", problems)
        sys.exit(EXIT_USAGE)


def _exit_if_threads_linger() -> None:
    """A job interrupted on stop may leave a worker thread blocked on a network read; Python would wait
    for it at exit. Everything is recorded and closed by now, so leave without waiting."""
    import os
    import threading

    lingering = [t.name for t in threading.enumerate()
                 if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if lingering:
        logging.getLogger("coachd").warning("exiting without waiting for threads %s", ", ".join(lingering))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def refuse_a_simulation(cfg: ProgramConfig, state: Path) -> None:
    """`run` on a simulation's state would book real calendars and mail real people from made-up history."""
    from coachd.observe.readonly import simulation_clock_of

    with state_errors_exit():
        clock = simulation_clock_of(cfg, state)
    if clock is not None:
        fail(f"{state} holds a simulation (its clock is at {clock.astimezone(cfg.program.zone):%Y-%m-%d %H:%M %Z}); "
             "`coachd run` works on a state of its own: give it another --state, or go on with `coachd simulate "
             f"--out {state}`")


@main.command()
@config_argument
@click.option("--until", "until", required=True, help="Simulate up to this date, not including it: the simulation stops at its first midnight in the "
                   "program's zone.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="State directory of the simulation; run again with a later --until to resume.")
@click.option("--from", "start", help="Start date (default: shortly before the program's start, as a daemon started "
                                      "in good time, or where DIR stopped).")
@click.option("--replies", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Folder of .eml replies, each delivered to the inbox at its Date.")
@click.option("--state", "state", type=click.Path(path_type=Path, file_okay=False), hidden=True)
@log_option
def simulate(config: Path, until: str, out: Path, start: str | None, replies: Path | None,
             state: Path | None, log_level: str) -> None:
    """Run the daemon's jobs on a virtual clock from just before the program start to --until."""
    from coachd.cli.simulate import run_simulate_command

    logging.basicConfig(level=getattr(logging, log_level.upper()), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if log_level.lower() == "info":
        logging.getLogger("coachd.actions").setLevel(logging.WARNING)
    cfg = load_or_exit(config)
    if state is not None and state != out:
        fail("--state and --out name different folders; for simulate they are the same thing")
    until_day = parse_day(until, "--until")
    start_day = parse_day(start, "--from")
    assert until_day is not None
    from coachd.runtime.simulator import SimulationError

    with state_errors_exit():
        try:
            run_simulate_command(console, cfg, out, until_day, start_day, replies, err_console)
        except SimulationError as error:
            fail(str(error))


@main.command()
@config_argument
@state_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config: Path, state: Path | None, as_json: bool) -> None:
    """Upcoming sessions, queued and failed mail, quarantined replies, last errors."""
    from coachd.reporting.status import show_status

    cfg = load_or_exit(config)
    with state_errors_exit():
        show_status(console, cfg, state_dir(state), as_json)


@main.group()
def auth() -> None:
    """Authorise coachd with a cloud provider, where a person must."""


@auth.command("google")
@config_argument
@state_option
@click.option("--timeout", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds to wait for the browser's answer.")
def auth_google(config: Path, state: Path | None, timeout: float) -> None:
    """Log CONFIG's Google account in (installed-app OAuth) and keep its refresh token in the state;
    for a service account, check its key and print the delegation it needs."""
    from coachd.cli.google_login import LoginError, google_login

    cfg = load_or_exit(config)
    try:
        google_login(cfg, state_dir(state), timeout=timeout, say=lambda line: click.echo(line), stdin=sys.stdin)
    except LoginError as error:
        fail(str(error))


@auth.command("microsoft")
@config_argument
@state_option
@click.option("--timeout", type=click.FloatRange(min=1), default=900, show_default=True,
              help="Seconds to wait for the code to be entered at Microsoft's page.")
def auth_microsoft(config: Path, state: Path | None, timeout: float) -> None:
    """Log CONFIG's Microsoft 365 account in (device code) and keep msal's token cache in the state;
    for app-only access, check the client secret or certificate and print the permissions it needs."""
    from coachd.cli.microsoft_login import LoginError, microsoft_login

    cfg = load_or_exit(config)
    try:
        microsoft_login(cfg, state_dir(state), timeout=timeout, say=lambda line: click.echo(line))
    except LoginError as error:
        fail(str(error))


@main.command(help="Show the email of KIND as it would be sent. KIND is one of: "
                   + ", ".join(kind.value for kind in MailKind) + ".")
@config_argument
@click.argument("kind", type=KindChoice(), metavar="KIND")
@state_option
@click.option("--session", "session_id", help="Session id (UID/RECURRENCE-ID); default: the next session.")
@click.option("--to", "person_id", help="Person id of the recipient; default: a typical reader of KIND.")
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the HTML part to this file, to open in a browser.")
@click.option("--at", "at", help="As of this date (default: now).")
def preview(config: Path, kind: str, state: Path | None, session_id: str | None, person_id: str | None,
            html_out: Path | None, at: str | None) -> None:
    from coachd.reporting.preview import PreviewError
    from coachd.reporting.preview import preview as show_preview

    cfg = load_or_exit(config)
    day = parse_day(at, "--at")
    now = datetime.combine(day, time(9), cfg.program.zone) if day else None
    with state_errors_exit():
        try:
            show_preview(console, cfg, state_dir(state), kind, session_id, person_id, html_out, now)
        except PreviewError as error:
            fail(str(error))


@main.command()
@config_argument
@click.argument("session")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@state_option
def notes(config: Path, session: str, file: Path, state: Path | None) -> None:
    """Record a coach's notes for SESSION (its id, UID/RECURRENCE-ID) from FILE; the summary uses them."""
    from coachd.cli.notes import NotesError, record_notes

    cfg = load_or_exit(config)
    with state_errors_exit():
        try:
            record_notes(console, cfg, state_dir(state), session, file)
        except NotesError as error:
            fail(str(error))


@main.command()
@config_argument
@click.argument("hold_id")
@state_option
def confirm(config: Path, hold_id: str, state: Path | None) -> None:
    """Let a held pass of cancellations (HOLD_ID, as `plan` and `status` show it) go ahead."""
    from coachd.cli.confirm import NoSuchHold
    from coachd.cli.confirm import confirm as confirm_hold

    cfg = load_or_exit(config)
    with state_errors_exit():
        try:
            confirm_hold(console, cfg, state_dir(state), hold_id)
        except NoSuchHold as error:
            fail(str(error))


@main.command()
@config_argument
@state_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--assign", "assign_id", type=click.IntRange(1, 2**63 - 1), metavar="ID",
              help="Take quarantined reply ID as an answer.")
@click.option("--person", "person_id", help="With --assign: whose answer it is (person id).")
@click.option("--session", "session_id", help="With --assign: the session it is about (default: their latest request).")
@click.option("--kind", "kind",
              type=KindChoice(sorted(EXPECTS_ANSWER), "{value!r} asks for no answer; one of {known}"),
              help="With --assign: the kind of request it answers.")
@click.option("--dismiss", "dismiss_id", type=click.IntRange(1, 2**63 - 1), metavar="ID",
              help="Set quarantined reply ID aside (kept).")
def inbox(config: Path, state: Path | None, as_json: bool, assign_id: int | None, person_id: str | None,
          session_id: str | None, kind: str | None, dismiss_id: int | None) -> None:
    """Quarantined replies with the reason; assign one to the request it answers, or dismiss it."""
    from coachd.cli.replies import ReplyCommandError, assign, dismiss
    from coachd.reporting.replies_view import show_inbox

    cfg = load_or_exit(config)
    if assign_id is not None and dismiss_id is not None:
        fail("--assign and --dismiss: one reply at a time")
    if assign_id is None and (person_id or session_id or kind):
        fail("--person, --session and --kind go with --assign ID")
    if assign_id is not None and not person_id:
        fail("--assign needs --person: whose answer the reply is")
    with state_errors_exit():
        try:
            if assign_id is not None:
                assign(console, cfg, state_dir(state), assign_id, person_id or "", session_id, kind)
            elif dismiss_id is not None:
                dismiss(console, cfg, state_dir(state), dismiss_id)
            else:
                show_inbox(console, cfg, state_dir(state), as_json)
        except ReplyCommandError as error:
            fail(str(error))


@main.command()
@config_argument
@state_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def feedback(config: Path, state: Path | None, as_json: bool) -> None:
    """Every feedback reply: session, person, rating, answers, the coachee's state, when received."""
    from coachd.reporting.replies_view import show_feedback

    cfg = load_or_exit(config)
    with state_errors_exit():
        show_feedback(console, cfg, state_dir(state), as_json)


@main.command()
@config_argument
@state_option
@click.option("--format", "fmt", metavar="html|csv|json",
              help="What to write; default: from the --out file's extension.")
@click.option("--from", "start", help="First day reported, in the program's zone (default: the program's start).")
@click.option("--until", "until", help="Last day reported, included (default: today, or the program's end).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="File to write; replaced whole, never left half-written.")
def report(config: Path, state: Path | None, fmt: str | None, start: str | None, until: str | None,
           out: Path) -> None:
    """The program's figures for a period (the sponsor digest's, with charts) as an HTML, CSV or JSON file."""
    from coachd.reporting.report import ReportError, check_out, report_format, write_report

    cfg = load_or_exit(config)
    first, last = parse_day(start, "--from"), parse_day(until, "--until")
    with state_errors_exit():
        try:
            check_out(out)
            kind = report_format(fmt, out)
            period = write_report(cfg, state_dir(state), kind, out, first, last)
        except ReportError as error:
            fail(str(error))
    console.print(f"{kind} report for {period.first} to {period.last} written to {out}", highlight=False,
                  soft_wrap=True)


@contextmanager
def state_errors_exit() -> Iterator[None]:
    """A state or provider that cannot be used: say so, no traceback. Exit 2 when it is the admin's to fix,
    75 (EX_TEMPFAIL) when it may pass by itself (a database not up yet, a full or read-only disk, the state
    in use by a coachd that is stopping), so that systemd starts coachd again."""
    from coachd.runtime.wiring import StateUnavailable
    from coachd.providers.base import ProviderError

    try:
        yield
    except StateUnavailable as error:
        if error.temporary:
            fail(f"{error} (temporary: exit {EXIT_TEMPFAIL}, try again later; under systemd coachd is "
                 "restarted by itself)", EXIT_TEMPFAIL)
        fail(str(error))
    except ProviderError as error:
        fail(str(error))


def open_or_exit(cfg: ProgramConfig, state: Path, clock: Clock) -> ProgramRuntime:
    from coachd.runtime.wiring import open_program

    with state_errors_exit():
        return open_program(cfg, state, clock)
    raise AssertionError("unreachable: state_errors_exit exits")


if __name__ == "__main__":
    main()
