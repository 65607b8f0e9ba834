"""Render and send 5,000 emails through coachd's outbox to a local SMTP server (aiosmtpd).

Prints emails per second for coachd (render with the Jinja2 templates, store in the outbox, drain
over SMTP) and for the floor: the same pre-rendered messages sent with plain smtplib over one
connection. Target: coachd at least 0.5 of the floor.

coachd is measured as `coachd run` works: the scheduler's process renders and queues (a transaction
per batch of emails, as the executor does), while the daemon's mail sender process (daemon/coachd/runtime/sender_process.py),
woken as mail is queued, drains the outbox over one SMTP connection. The clock starts before the
first render and stops when the last email has been accepted by the server. Three rounds of both, the
median ratio is the figure.
Run: .venv/bin/python benchmarks/bench_outbox.py [--emails 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import statistics
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from coachd.runtime.clock import VirtualClock  # noqa: E402
from coachd.config import load_config_text  # noqa: E402
from coachd.runtime.sender_process import MailDispatcher  # noqa: E402
from coachd.mail import Composer, Envelope  # noqa: E402
from coachd.mail.samples import sample_context  # noqa: E402
from coachd.runtime.wiring import open_program  # noqa: E402
from coachd.execute.executor import QUEUE_BATCH, store_mail  # noqa: E402
from coachd.store.models import Outbox  # noqa: E402
from coachd.model.mail_kinds import MailKind  # noqa: E402

TARGET = 0.5
# Queued as due now: the sender process reads the real clock, as `coachd run`'s does.
NOW = datetime.now(timezone.utc)
KINDS = (MailKind.AGENDA, MailKind.SUMMARY, MailKind.FEEDBACK_REQUEST, MailKind.NOTES_REQUEST)


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.count += 1
        return "250 OK"


def serve(port: int, ready, stop, counted) -> None:  # type: ignore[no-untyped-def]
    """The SMTP server in a process of its own, as a real one would be: it does not compete with
    the sender for the interpreter lock."""
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    counted.value = counter.count


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def render_and_queue(program, composer: Composer, emails: int, sender: MailDispatcher) -> list[bytes]:
    """Render `emails` messages and put them in the outbox as the executor does (`store_mail`, a
    transaction every QUEUE_BATCH emails), waking the sender as the executor's listener does;
    returns their bytes."""
    raws = []
    for first in range(0, emails, QUEUE_BATCH):
        rows = []
        for n in range(first, min(first + QUEUE_BATCH, emails)):
            kind = KINDS[n % len(KINDS)]
            context = sample_context(kind)
            recipient = context["recipient"]
            envelope = Envelope(key=f"bench/{n}", sender_name="Office", sender_email="office@northwind.example",
                                date=NOW, session_id=context.get("session", {}).get("id"))
            composed = composer.compose_bytes(kind, recipient, context, envelope)  # as the executor does
            raws.append(composed.raw)
            rows.append(({"key": f"bench/{n}", "program_id": program.id, "kind": kind,
                          "recipient": recipient.person_id, "to_addr": recipient.email, "subject": composed.subject,
                          "message": composed.raw, "message_id": composed.message_id, "status": "queued",
                          "attempts": 0, "due_at": NOW, "next_attempt_at": NOW, "created_at": NOW},
                         {"key": f"bench/{n}", "program_id": program.id, "kind": "queue", "done_at": NOW,
                          "detail": {"kind": kind, "to": recipient.person_id}}))
        store_mail(program.store, rows)
        sender.wake()
    return raws


def wait_until_sent(program, emails: int, deadline_seconds: float = 600.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with program.store.session() as db:
            if db.scalar(select(func.count()).where(Outbox.status == "sent")) >= emails:
                return
        time.sleep(0.01)
    raise SystemExit(f"not every email was sent within {deadline_seconds:.0f} s")


def coachd_round(cfg, emails: int) -> tuple[float, float, list[bytes]]:
    """One timed render-and-send through coachd: (total seconds, rendering seconds, the bytes sent)."""
    with tempfile.TemporaryDirectory() as state:
        program = open_program(cfg, Path(state), VirtualClock(NOW))
        sender = MailDispatcher(cfg, Path(state), timedelta(minutes=1), log_level="warning")
        try:
            sender.start()
            started = time.perf_counter()
            raws = render_and_queue(program, program.composer, emails, sender)
            rendered = time.perf_counter()
            wait_until_sent(program, emails)
            return time.perf_counter() - started, rendered - started, raws
        finally:
            sender.stop()
            program.close()


def floor_round(port: int, raws: list[bytes]) -> float:
    """The same messages, already rendered, sent with plain smtplib over one connection."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for n, raw in enumerate(raws):
            connection.sendmail("office@northwind.example", [f"p{n}@northwind.example"], raw)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of coachd then the floor; the median ratio is the figure (this "
                             "machine's timings vary by a quarter from run to run)")
    args = parser.parse_args()
    port = free_port()
    ready, stop, counted = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Value("i", 0)
    server = multiprocessing.Process(target=serve, args=(port, ready, stop, counted), daemon=True)
    server.start()
    ready.wait(10)
    text = (ROOT / "config" / "example.yaml").read_text().replace(
        "send: {provider: file}", f"send: {{provider: smtp, host: 127.0.0.1, port: {port}, tls: none}}")
    cfg = load_config_text(text, ROOT / "config" / "example.yaml")
    ratios = []
    print(f"emails: {args.emails} a round")
    try:
        for round_number in range(1, args.rounds + 1):
            coachd, render_time, raws = coachd_round(cfg, args.emails)
            floor = floor_round(port, raws)
            ratios.append(floor / coachd)
            print(f"round {round_number}: coachd render+send {coachd:.1f} s ({args.emails / coachd:.0f}/s; rendering "
                  f"and queueing {render_time:.1f} s, the sender beside it); smtplib floor {floor:.1f} s "
                  f"({args.emails / floor:.0f}/s); ratio {floor / coachd:.2f}")
    finally:
        stop.set()
        server.join(10)
    assert counted.value == 2 * args.emails * args.rounds, (counted.value, 2 * args.emails * args.rounds)
    print(f"ratio to the floor:      {statistics.median(ratios):.2f} median of {len(ratios)} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target at least {TARGET})")


if __name__ == "__main__":
    main()
