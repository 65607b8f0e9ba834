"""A sender killed while sending (issue 14 point 5): what it had claimed is sent at once, not after
the 10-minute lease; the one email in flight is looked up where the provider can say, and otherwise
sent once more and counted in `coachd status`."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.execute.outbox import drain
from coachd.reporting.status import show_status
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from coachd.store.db import sqlite_url
from coachd.store.models import Outbox
from tests.support.outbox_rows import queue_emails
from tests.support.smtp_servers import Recorder, smtp_server
from tests.support.ticks import EXAMPLE

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 11, 9, tzinfo=UTC)
EMAILS = 12


def config_file(tmp_path: Path, send: str = "{provider: file}") -> Path:
    path = tmp_path / "program.yaml"
    path.write_text(EXAMPLE.read_text().replace("send: {provider: file}", f"send: {send}")
                    .replace("busy: calendars/", f"busy: {EXAMPLE.parent / 'calendars'}/"))
    return path


def killed_worker(config: Path, state: Path, *args: str) -> None:
    process = subprocess.run([sys.executable, "-m", "tests.support.crash_drain_worker", str(config), str(state),
                              NOW.isoformat(), *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             capture_output=True, timeout=120, check=False)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()


def drain_now(config: Path, state: Path, now: datetime = NOW) -> int:
    """What the restarted sender does first, at the same moment: no lease has run out."""
    program = open_program(load_config(config), state, VirtualClock(now))
    try:
        return drain(program, Executor(program), now)
    finally:
        program.close()


def outbox(state: Path) -> list[Outbox]:
    program = open_program(load_config(config_file(state.parent)), state, VirtualClock(NOW), locked=False)
    try:
        with program.store.session() as db:
            return list(db.scalars(select(Outbox).order_by(Outbox.id)))
    finally:
        program.close()


def status_text(config: Path, state: Path) -> str:
    console = Console(record=True, width=200)
    show_status(console, load_config(config), state, as_json=False)
    return console.export_text()


def test_what_a_killed_sender_had_claimed_is_sent_at_once_not_after_the_lease(tmp_path):
    config, state = config_file(tmp_path), tmp_path / "state"
    queue_emails(sqlite_url(state), "northwind-2027", EMAILS, NOW)
    killed_worker(config, state, "claim")
    assert drain_now(config, state) == EMAILS
    assert {row.status for row in outbox(state)} == {"sent"}
    assert len(list((state / "mail").glob("*.eml"))) == EMAILS


def test_the_email_in_flight_is_looked_up_where_the_provider_can_say(tmp_path):
    """The file sender can tell (the file is there): the email in flight is not sent again, not counted."""
    config, state = config_file(tmp_path), tmp_path / "state"
    queue_emails(sqlite_url(state), "northwind-2027", EMAILS, NOW)
    killed_worker(config, state, "send", "3")
    assert drain_now(config, state) == EMAILS - 2  # the third is found sent, the rest are sent now
    rows = outbox(state)
    assert {row.status for row in rows} == {"sent"}
    assert sum(row.resent_after_crash for row in rows) == 0
    assert len(list((state / "mail").glob("*.eml"))) == EMAILS
    assert "resent after a crash" not in status_text(config, state)


def test_where_the_provider_cannot_say_the_email_in_flight_is_resent_once_and_counted(tmp_path):
    recorder = Recorder()
    with smtp_server(recorder) as port:
        config = config_file(tmp_path, f"{{provider: smtp, host: 127.0.0.1, port: {port}, tls: none}}")
        state = tmp_path / "state"
        expected = queue_emails(sqlite_url(state), "northwind-2027", EMAILS, NOW)
        killed_worker(config, state, "send", "3")
        drain_now(config, state)
    received = Counter(str(email.message_from_bytes(r.data, policy=email.policy.default)["Message-ID"])
                       for r in recorder.received)
    assert set(received) == set(expected), "nothing lost"
    assert {i: n for i, n in received.items() if n > 1} == {expected[2]: 2}, "only the email in flight, twice"
    rows = outbox(state)
    assert {row.status for row in rows} == {"sent"}
    assert [row.message_id for row in rows if row.resent_after_crash] == [expected[2]]
    assert "1 emails resent after a crash (may have arrived twice)" in status_text(config, state)


class FilingRecorder(Recorder):
    """An SMTP server that files each message it accepts into an IMAP Sent folder, as Gmail does."""

    def __init__(self, dovecot, folder: str) -> None:
        super().__init__()
        self.dovecot, self.folder = dovecot, folder

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            with self.dovecot.admin() as client:
                client.append(self.folder, bytes(envelope.content))
        return answer


def sent_folder_option(dovecot, folder: str, port: int | None = None) -> str:
    return (f"{{host: 127.0.0.1, port: {port or dovecot.implicit_port}, tls: implicit, username: {dovecot.user}, "
            f"password_env: COACHD_TEST_SENT_PASSWORD, ca_file: {dovecot.ca_file}, folder: {folder}}}")


def test_with_a_sent_folder_the_email_in_flight_is_found_there_and_not_sent_twice(tmp_path, dovecot, folder,
                                                                                  monkeypatch):
    monkeypatch.setenv("COACHD_TEST_SENT_PASSWORD", dovecot.password)
    recorder = FilingRecorder(dovecot, folder)
    with smtp_server(recorder) as port:
        config = config_file(tmp_path, f"{{provider: smtp, host: 127.0.0.1, port: {port}, tls: none, "
                                       f"sent_folder: {sent_folder_option(dovecot, folder)}}}")
        state = tmp_path / "state"
        expected = queue_emails(sqlite_url(state), "northwind-2027", EMAILS, NOW)
        killed_worker(config, state, "send", "3")
        assert drain_now(config, state) == EMAILS - 2  # the third is found in the Sent folder
    received = Counter(str(email.message_from_bytes(r.data, policy=email.policy.default)["Message-ID"])
                       for r in recorder.received)
    assert received == Counter(expected), "each email once"
    assert sum(row.resent_after_crash for row in outbox(state)) == 0
    assert "resent after a crash" not in status_text(config, state)


def test_a_sent_folder_that_cannot_be_asked_is_not_taken_for_not_sent(tmp_path, dovecot, folder, monkeypatch):
    """An unreachable IMAP server says nothing: the email is resent and counted, as without a folder."""
    from coachd.providers.mailserver.factories import smtp_sender
    from coachd.providers.mailserver.family import SentFolderSection
    from tests.support.smtp_servers import free_port

    monkeypatch.setenv("COACHD_TEST_SENT_PASSWORD", dovecot.password)

    def section(port: int) -> SentFolderSection:
        return SentFolderSection(host="127.0.0.1", port=port, tls="implicit", username=dovecot.user,
                                 password_env="COACHD_TEST_SENT_PASSWORD", ca_file=str(dovecot.ca_file), folder=folder)

    with dovecot.admin() as client:
        client.append(folder, b"Message-ID: <filed@northwind.example>\r\nSubject: x\r\n\r\nbody\r\n")
    sender = smtp_sender(tmp_path, "127.0.0.1", 2525, tls="none", sent_folder=section(dovecot.implicit_port))
    assert sender.was_sent("<filed@northwind.example>", "k1") is True
    assert sender.was_sent("<never@northwind.example>", "k2") is False
    unreachable = smtp_sender(tmp_path, "127.0.0.1", 2525, tls="none", sent_folder=section(free_port()))
    assert unreachable.was_sent("<filed@northwind.example>", "k1") is None
    assert smtp_sender(tmp_path, "127.0.0.1", 2525, tls="none").was_sent("<filed@northwind.example>", "k1") is None
