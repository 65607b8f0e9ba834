"""SIGKILL the sending process at random points while it drains 200 emails to a real SMTP server.

Every email must arrive. A duplicate is only allowed for a message the server accepted just before a
kill, when the process had no time to record it as sent: at most one per kill, each counted by the
outbox as resent after a crash. Each new drainer starts at the same moment as the killed one: what the
dead process had claimed is handed back at once, not after the lease. The test prints the numbers it
saw (pytest -s).
"""

from __future__ import annotations

import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from coachd.store.db import Store, sqlite_url
from coachd.store.models import Outbox, OutboxMessage
from tests.support.smtp_servers import Recorder, smtp_server
from tests.support.ticks import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
EMAILS = 200
RUNS = 3
KILLS_PER_RUN = 4
NOW = datetime(2027, 1, 11, 9, tzinfo=timezone.utc)


def queue(state: Path, program_id: str) -> list[str]:
    store = Store.open(sqlite_url(state))
    ids = []
    try:
        with store.session() as db:
            for n in range(EMAILS):
                message = EmailMessage()
                message["From"] = "Northwind Coaching Office <coaching@northwind.example>"
                message["To"] = f"Person {n} <person{n}@northwind.example>"
                message["Subject"] = f"Agenda {n}"
                message["Message-ID"] = f"<crash-{n}@northwind.example>"
                message.set_content(f"Email number {n}.\n" * 20)
                ids.append(str(message["Message-ID"]))
                db.add(Outbox(key=f"mail:test/{n}", program_id=program_id, kind="agenda", recipient=f"p{n}",
                              to_addr=f"person{n}@northwind.example", subject=f"Agenda {n}",
                              message_id=ids[-1], status="queued", attempts=0,
                              due_at=NOW, next_attempt_at=NOW, created_at=NOW))
                db.flush()  # the message refers to its outbox row
                db.add(OutboxMessage(key=f"mail:test/{n}", message=message.as_bytes()))
    finally:
        store.dispose()
    return ids


def message_id(data: bytes) -> str:
    return str(email.message_from_bytes(data, policy=email.policy.default)["Message-ID"])


def drainer(config: Path, state: Path, now: datetime) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.support.smtp_drain_worker", str(config), str(state),
                             now.isoformat()], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def unsent(state: Path) -> int:
    store = Store.open(sqlite_url(state))
    try:
        with store.session() as db:
            return len(db.scalars(select(Outbox.id).where(Outbox.status != "sent")).all())
    finally:
        store.dispose()


def resent(state: Path) -> int:
    store = Store.open(sqlite_url(state))
    try:
        with store.session() as db:
            return len(db.scalars(select(Outbox.id).where(Outbox.resent_after_crash > 0)).all())
    finally:
        store.dispose()


def test_killing_the_sender_loses_nothing_and_duplicates_at_most_one_per_kill(tmp_path):
    rng = random.Random(20271111)
    report = []
    for run in range(RUNS):
        state = tmp_path / f"run{run}"
        recorder = Recorder()
        with smtp_server(recorder) as port:
            config = tmp_path / f"run{run}.yaml"
            config.write_text(EXAMPLE.read_text().replace(
                "send: {provider: file}", f"send: {{provider: smtp, host: 127.0.0.1, port: {port}, tls: none}}")
                .replace("busy: calendars/", f"busy: {EXAMPLE.parent / 'calendars'}/"))
            expected = queue(state, "northwind-2027")
            now, kills = NOW, 0
            last_before_kill: set[str] = set()
            while kills < KILLS_PER_RUN:
                before = len(recorder.received)
                process = drainer(config, state, now)
                # Kill once it is under way: after a random number of further deliveries.
                target = before + rng.randint(1, 25)
                deadline = time.monotonic() + 60
                while len(recorder.received) < target and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.001)
                if process.poll() is not None:
                    break  # it finished first
                process.send_signal(signal.SIGKILL)
                process.wait()
                time.sleep(0.05)  # let the server finish with what was in flight
                if recorder.received:
                    last_before_kill.add(message_id(recorder.received[-1].data))
                kills += 1
                # The same moment: the killed process's claims are not waited out (the 10-minute lease).
            process = drainer(config, state, now)
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr.decode()
        ids = Counter(message_id(r.data) for r in recorder.received)
        assert set(ids) == set(expected), "every email arrived"
        duplicates = sum(count - 1 for count in ids.values())
        assert duplicates <= kills, (duplicates, kills)
        # Only what the server had accepted just before a kill came twice.
        assert {i for i, count in ids.items() if count > 1} <= last_before_kill
        assert unsent(state) == 0
        assert resent(state) >= duplicates, "every possible duplicate is counted for `coachd status`"
        report.append((kills, duplicates))
    print(f"\nSMTP crash test: {RUNS} runs of {EMAILS} emails; (kills, duplicates) per run: {report}")
