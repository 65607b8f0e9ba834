"""Chaos while sending: SIGKILL `coachd run`'s mail sender (and the daemon) again and again while it
drains emails to a real SMTP server (aiosmtpd on loopback), as the issue 14 probe did.

Prints, for the emails it queued: lost (must be 0), duplicates (at most one per kill, and only where
the provider cannot be asked whether the email in flight arrived), the emails the outbox counted as
resent after a crash, and the longest stall: the longest time from a kill to the next delivery
(before issue 14 point 5, the claimed batch waited out the 10-minute lease: 545 to 607 s).

Two runs: SMTP alone, which cannot be asked, so a kill that lands between the server's 250 and the
outbox's mark makes a duplicate, counted by the outbox (the count is higher than the duplicates: a
kill before the 250 is resent and counted too, since nobody can tell); and SMTP with `sent_folder`,
the server filing each message into an IMAP Sent folder (a real Dovecot, as Gmail or Microsoft 365
do), asked after each crash: no duplicate. The second run is skipped where Dovecot is not installed.

A killed daemon is started again at once, as systemd's Restart= would; its sender notices and stops
by itself between two emails, handing back what it had claimed.

Run: .venv/bin/python benchmarks/chaos_send.py [--emails 400] [--sender-kills 6] [--daemon-kills 2] [--seed 14]
     [--no-lookup-only]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select

from coachd.store.db import Store, sqlite_url
from coachd.store.models import Outbox
from tests.support.imap_server import Dovecot, binaries, running_dovecot
from tests.support.outbox_rows import queue_emails
from tests.support.smtp_servers import Recorder, smtp_server

EXAMPLE = ROOT / "config" / "example.yaml"
PROGRAM = "northwind-2027"
# Each message takes a little while at the server, so that kills land while mail is going out.
SERVER_DELAY = 0.01


@dataclass
class TimedRecorder(Recorder):
    """The test server's recorder, with the time each message was accepted."""

    times: list[float] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(SERVER_DELAY)
        answer = await super().handle_DATA(server, session, envelope)
        self.times.append(time.monotonic())
        return answer


@dataclass
class FilingRecorder(TimedRecorder):
    """A server that files each message it accepts into an IMAP Sent folder before answering 250."""

    dovecot: Dovecot | None = None
    folder: str = "Sent"

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250") and self.dovecot is not None:
            with self.dovecot.admin() as client:
                client.append(self.folder, bytes(envelope.content))
        return answer


class Daemon:
    """`coachd run` in a process of its own; remembers the pid of its current mail sender."""

    def __init__(self, config: Path, state: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "coachd", "run", str(config), "--state", str(state),
                                         "--log-level", "info"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.sender_pid: int | None = None
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "mail sender started (pid" in line:
                self.sender_pid = int(line.split("(pid ")[1].split(")")[0])

    def wait_for_sender(self, other_than: int | None, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sender_pid is not None and self.sender_pid != other_than:
                return self.sender_pid
            if self.process.poll() is not None:
                raise RuntimeError("coachd run exited:\n" + "".join(self.log[-30:]))
            time.sleep(0.01)
        raise TimeoutError("no mail sender started:\n" + "".join(self.log[-30:]))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        self._reader.join(5)
        return self.process.returncode


PASSWORD_ENV = "COACHD_CHAOS_SENT_PASSWORD"


def config_for(port: int, folder: Path, dovecot: Dovecot | None = None) -> Path:
    sent = ""
    if dovecot is not None:
        os.environ[PASSWORD_ENV] = dovecot.password  # the daemon inherits it
        sent = (f", sent_folder: {{host: 127.0.0.1, port: {dovecot.implicit_port}, tls: implicit, "
                f"username: {dovecot.user}, password_env: {PASSWORD_ENV}, ca_file: {dovecot.ca_file}, folder: Sent}}")
    path = folder / "program.yaml"
    path.write_text(EXAMPLE.read_text()
                    .replace("send: {provider: file}",
                             f"send: {{provider: smtp, host: 127.0.0.1, port: {port}, tls: none{sent}}}")
                    .replace("busy: calendars/", f"busy: {EXAMPLE.parent / 'calendars'}/"))
    return path


def message_id(data: bytes) -> str:
    return str(email.message_from_bytes(data, policy=email.policy.default)["Message-ID"])


def chaos(emails: int, sender_kills: int, daemon_kills: int, seed: int, folder: Path,
          timeout: float = 300.0, dovecot: Dovecot | None = None) -> dict[str, object]:
    """Run the chaos once, with the Sent folder lookup when `dovecot` is given; returns the figures
    (see the module's docstring)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    recorder: TimedRecorder = TimedRecorder() if dovecot is None else FilingRecorder(dovecot=dovecot)
    if dovecot is not None:
        with dovecot.admin() as client:
            if not client.folder_exists("Sent"):
                client.create_folder("Sent")
    state = folder / "state"
    kinds = ["sender"] * sender_kills + ["daemon"] * daemon_kills
    rng.shuffle(kinds)
    stalls: list[float] = []
    with smtp_server(recorder) as port:
        config = config_for(port, folder, dovecot)
        expected = set(queue_emails(sqlite_url(state), PROGRAM, emails, datetime.now(UTC) - timedelta(minutes=1)))

        def ours() -> int:
            return len(recorder.received)

        daemon = Daemon(config, state)
        try:
            pid = daemon.wait_for_sender(None)
            for kind in kinds:
                # Kill once mail is going out: after a random number of further deliveries.
                target = ours() + rng.randint(3, 20)
                deadline = time.monotonic() + timeout
                while ours() < target and time.monotonic() < deadline:
                    time.sleep(0.001)
                if ours() < target:
                    break  # everything was sent before this kill
                killed_at = time.monotonic()
                before = ours()
                if kind == "sender":
                    os.kill(pid, signal.SIGKILL)
                    pid = daemon.wait_for_sender(pid)
                else:
                    daemon.process.send_signal(signal.SIGKILL)
                    daemon.process.wait(30)
                    daemon = Daemon(config, state)  # what systemd's Restart= does
                    pid = daemon.wait_for_sender(None)
                # The stall: from the kill to the next email delivered.
                deadline = time.monotonic() + timeout
                while ours() <= before + 1 and time.monotonic() < deadline:
                    time.sleep(0.001)
                after = [t for t in recorder.times[before:] if t > killed_at]
                stalls.append((after[1] if len(after) > 1 else time.monotonic()) - killed_at)
            deadline = time.monotonic() + timeout
            while not expected <= {message_id(r.data) for r in recorder.received} and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            code = daemon.stop()
    received = Counter(message_id(r.data) for r in recorder.received)
    store = Store.open(sqlite_url(state))
    try:
        with store.session() as db:
            rows = db.execute(select(Outbox.message_id, Outbox.status, Outbox.resent_after_crash)
                              .where(Outbox.message_id.in_(expected))).all()
    finally:
        store.dispose()
    return {
        "emails": emails,
        "kills": len(stalls),
        "lost": len(expected - set(received)),
        "duplicates": sum(n - 1 for i, n in received.items() if i in expected),
        "resent_after_crash": sum(1 for row in rows if row.resent_after_crash),
        "unsent_rows": sum(1 for row in rows if row.status != "sent"),
        "longest_stall_s": round(max(stalls, default=0.0), 2),
        "exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=400)
    parser.add_argument("--sender-kills", type=int, default=6)
    parser.add_argument("--daemon-kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--no-lookup-only", action="store_true", help="skip the run with an IMAP Sent folder")
    args = parser.parse_args()
    runs: list[tuple[str, dict[str, object]]] = []
    with tempfile.TemporaryDirectory(prefix="coachd-chaos-") as folder:
        runs.append(("SMTP, provider cannot be asked", chaos(args.emails, args.sender_kills, args.daemon_kills,
                                                            args.seed, Path(folder) / "plain")))
        if not args.no_lookup_only and binaries() is not None:
            with running_dovecot() as dovecot:
                runs.append(("SMTP with sent_folder (asked after each crash)",
                             chaos(args.emails, args.sender_kills, args.daemon_kills, args.seed,
                                   Path(folder) / "lookup", dovecot=dovecot)))
        elif not args.no_lookup_only:
            print("dovecot is not installed: the run with the Sent folder lookup is skipped")
    for title, figures in runs:
        print(f"{title}: {figures['kills']} kills ({args.sender_kills} of the sender, {args.daemon_kills} of the "
              f"daemon planned) while sending {figures['emails']} emails")
        print(f"  lost: {figures['lost']} (must be 0)")
        print(f"  duplicates: {figures['duplicates']} (at most one per kill); counted by the outbox as resent after "
              f"a crash: {figures['resent_after_crash']}")
        print(f"  longest stall after a kill: {figures['longest_stall_s']} s (the claim lease is 600 s)")
        print(f"  rows not sent at the end: {figures['unsent_rows']}; exit code at SIGTERM: {figures['exit_code']}")
    if any(figures["lost"] or figures["unsent_rows"] for _, figures in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
