"""Ingest 10,000 replies from the inbox Maildir into SQLite with coachd's inbox job (target: over 200/s).

Setup, not timed: `coachd simulate` runs the example program for --weeks weeks, so the outbox holds the
requests coachd really sent; replies to them are generated (60% feedback with a rating and answers, 20% coach
notes, 10% agenda topics, 10% others: HTML-only multipart/alternative, plain+HTML, quoted "On ... wrote:"
history, goal check-ins) and delivered into the Maildir's new/. The ingest is `coachd.observe.inbox.read_inbox`,
called until it returns 0, in a fresh process; a second fresh process on a copy of the same state measures
the ingest's tracemalloc peak (apart, as tracemalloc slows it). Prints replies per second, the ratio to the
target, peak memory and how the replies were stored (handled, quarantined, auto-reply).
Run: .venv/bin/python benchmarks/bench_inbox.py [--replies 10000] [--weeks 12] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import email
import email.policy
import html
import io
import multiprocessing
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from coachd.runtime.clock import VirtualClock  # noqa: E402
from coachd.config import load_config  # noqa: E402
from coachd.execute.executor import Executor  # noqa: E402
from coachd.observe.inbox import read_inbox  # noqa: E402
from coachd.runtime.wiring import ProgramRuntime, open_program  # noqa: E402
from coachd.store.models import Outbox, OutboxMessage, Reply  # noqa: E402

EXAMPLE = ROOT / "config" / "example.yaml"
PROGRAM_START = date(2027, 1, 4)
TARGET = 200.0
ANSWERED = ("feedback-request", "notes-request", "agenda", "goal-check-in", "check-in")
WORKED = ("the live deal reviews", "role-playing the discovery call", "the pricing examples", "the pipeline review")
MORE = ("more practice, less theory", "more time on objections", "less slideware, more real accounts")
# What reply n answers and how it is written, by n % 40: 60% feedback, 20% notes, 10% topics, 10% others.
MIX = ([("feedback-request", "plain")] * 24 + [("notes-request", "plain")] * 8 + [("agenda", "plain")] * 4
       + [("feedback-request", "html-only"), ("feedback-request", "plain+html"), ("feedback-request", "quoted"),
          ("goal-check-in", "quoted")])


@dataclass(frozen=True)
class Request:
    message_id: str
    subject: str
    sender: str  # the recipient, who answers: "Ana Souza <ana@northwind.example>"
    first_name: str
    reply_to: str  # the request's Reply-To, else the organizer
    sent_at: datetime
    body: str  # its plain text, for replies that quote it


def load_requests(program: ProgramRuntime) -> dict[str, list[Request]]:
    """The sent requests of answerable kinds, by kind, oldest first."""
    people, found = program.cfg.people_by_id, defaultdict(list)
    with program.store.session() as db:
        rows = db.execute(select(Outbox.kind, Outbox.recipient, Outbox.to_addr, Outbox.message_id, Outbox.subject,
                                 OutboxMessage.message, Outbox.sent_at)
                          .join(OutboxMessage, OutboxMessage.key == Outbox.key)
                          .where(Outbox.program_id == program.id, Outbox.status == "sent", Outbox.kind.in_(ANSWERED))
                          .order_by(Outbox.id)).all()
    for kind, person_id, to_addr, message_id, subject, raw, sent_at in rows:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        reply_to = [a for _, a in getaddresses([str(message.get("Reply-To", ""))]) if a]
        name, body = people[person_id].name, message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found[kind].append(Request(message_id, subject, formataddr((name, to_addr)), name.split()[0],
                                   (reply_to or [program.cfg.organizer.email])[0], sent_at, body))
    return found


def text(kind: str, n: int, name: str, coachee: str) -> str:
    """What a person writes: feedback as templates/email/_feedback_example.txt asks, notes as _notes_example.txt."""
    if kind == "feedback-request":
        rating = f"{1 + n % 5}/5" if n % 7 == 0 else str(1 + n % 5)
        return (f"Hi,\n\nRating: {rating}\n\n1. {WORKED[n % 4]}\n2. {MORE[n % 3]}\n"
                f"3. {'Mostly, yes' if n % 3 else 'Yes'}\n\nRepeat: {WORKED[(n + 1) % 4]}\n"
                f"Avoid: running over time\n\nThanks,\n{name}\n")
    if kind == "notes-request":
        return (f"Conclusions:\n- Lead with the business case, not the discount\n- {coachee} qualifies out small deals "
                f"earlier\nActions:\n- {coachee}: send the revised proposal by 2027-{1 + n % 12:02d}-{1 + n % 28:02d}\n"
                f"- {name}: share the pricing playbook\n\nSharper on discovery than last month; follow up on the two "
                f"stalled renewals.\n\n{name}\n")
    if kind == "agenda":
        return (f"Topics for the session:\n- The Acme renewal: procurement wants {10 + n % 10}% off\n"
                f"- How to get my champion to introduce me to the CFO\n\nSee you then,\n{name}\n")
    return (f"1. Win rate is at 26%, up from 22%\n2. Written account plans for my top 5 by Friday\n"
            f"3. An hour with the deal desk on pricing\n\nBest,\n{name}\n")


def reply(n: int, by_kind: dict[str, list[Request]], organizer: str, coachees: list[str]) -> bytes:
    kind, form = MIX[n % len(MIX)]
    pool = by_kind[kind] or by_kind["check-in"] or by_kind["feedback-request"]
    request = pool[n % len(pool)]
    body = text(kind, n, request.first_name, coachees[n % len(coachees)])
    if form != "plain":  # the request quoted below, as mail clients do
        body += f"\nOn {request.sent_at:%a, %d %b %Y at %H:%M}, Northwind Coaching Office <{organizer}> wrote:\n"
        body += "".join(f">{' ' if line else ''}{line}\n" for line in request.body.splitlines())
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = request.sender
    message["To"] = request.reply_to
    message["Subject"] = f"Re: {request.subject}"
    message["Date"] = format_datetime(request.sent_at + timedelta(minutes=30 + n % 600))
    message["Message-ID"] = f"<bench-{n}.{request.sent_at:%Y%m%d}@mail.northwind.example>"
    message["In-Reply-To"] = message["References"] = request.message_id
    if form != "html-only":
        message.set_content(body)
    if form in ("html-only", "plain+html"):  # html-only: a multipart/alternative with only an HTML part
        message.add_alternative("<div dir=\"ltr\">" + "<br>\n".join(map(html.escape, body.splitlines())) + "</div>",
                                subtype="html")
    return message.as_bytes()


def ingest(state: str, now: datetime, mode: str) -> dict[str, Any]:
    """`read_inbox` until it returns 0, in this (fresh) process; mode is "time", "trace" or "profile".
    Logging stays unconfigured (WARNING), as with `coachd simulate --log-level warning`."""
    program = open_program(load_config(EXAMPLE), Path(state), VirtualClock(now), embedded=True)
    executor, profile, out = Executor(program), cProfile.Profile(), io.StringIO()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "trace":
        tracemalloc.start()
    started, total, calls, count = time.perf_counter(), 0, 0, -1
    with profile if mode == "profile" else contextlib.nullcontext():
        while count != 0:
            count = read_inbox(program, executor, now)
            total, calls = total + count, calls + 1
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    with program.store.session() as db:
        statuses = Counter(db.scalars(select(Reply.status).where(Reply.program_id == program.id)))
    program.close()
    if mode == "profile":
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(10)
    return {"total": total, "calls": calls, "elapsed": elapsed, "peak": peak, "statuses": statuses,
            "rss_before": rss_before, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "profile": out.getvalue()}


def in_fresh_process(state: Path, now: datetime, mode: str) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(ingest, (str(state), now, mode))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=10000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the ingest (top 10)")
    args = parser.parse_args()
    until = PROGRAM_START + timedelta(weeks=args.weeks)
    now = datetime(until.year, until.month, until.day, tzinfo=timezone.utc) + timedelta(days=1)
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "coachd", "simulate", str(EXAMPLE), "--until", until.isoformat(),
                        "--out", str(state), "--log-level", "error"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        simulated = time.perf_counter() - started
        cfg = load_config(EXAMPLE)
        program = open_program(cfg, state, VirtualClock(now), embedded=True)
        try:
            started = time.perf_counter()
            by_kind = load_requests(program)
            coachees = [cfg.people_by_id[m].name.split()[0] for team in cfg.teams for m in team.members]
            for n in range(args.replies):
                program.inbox.deliver(reply(n, by_kind, cfg.organizer.email, coachees))
            generated = time.perf_counter() - started
        finally:
            program.close()
        modes = ("time", "trace", "profile") if args.profile else ("time", "trace")
        for mode in modes[1:]:  # each run ingests the same replies into its own copy of the state
            shutil.copytree(state, Path(scratch) / mode)
        runs = {mode: in_fresh_process(state if mode == "time" else Path(scratch) / mode, now, mode) for mode in modes}
    timed, traced, profiled = runs["time"], runs["trace"], runs.get("profile")
    assert timed["total"] == traced["total"] == args.replies, (timed["total"], traced["total"], args.replies)
    rate, stored = timed["total"] / timed["elapsed"], timed["statuses"]
    print(f"setup: simulate {args.weeks} weeks {simulated:.1f} s; generate and deliver the replies (to "
          f"{sum(map(len, by_kind.values()))} requests) {generated:.1f} s; neither is timed below")
    print(f"replies: {timed['total']}")
    print(f"ingest: {timed['elapsed']:.1f} s ({rate:.0f} replies/s; target over {TARGET:.0f}/s) in "
          f"{timed['calls']} read_inbox calls")
    print(f"ratio to target: {rate / TARGET:.2f} (over 1.00 meets it)")
    print(f"peak memory: tracemalloc {traced['peak']:.1f} MB, max RSS {timed['rss']:.0f} MB "
          f"({timed['rss_before']:.0f} MB before the ingest)")
    print(f"stored: handled {stored['handled']}, quarantined {stored['quarantined']}, "
          f"auto-reply {stored['auto-reply']}")
    print(profiled["profile"] if profiled else "", end="")


if __name__ == "__main__":
    main()
