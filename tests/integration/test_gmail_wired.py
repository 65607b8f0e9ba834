"""`send: {provider: gmail}` and `receive: {provider: gmail}` from a config, as `coachd run` builds them: a
delegated service account, the daemon's jobs sending through Gmail and reading the replies back;
`read_sent` asks for gmail.readonly at login and in the delegation, and `check --online` reads Sent."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from coachd.cli.google_login import accounts
from coachd.config import load_config
from coachd.providers.google.gmail_inbox import GmailInbox
from coachd.providers.google.gmail_send import GmailSender
from coachd.providers.google.online_check import online_checks
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from coachd.store.models import Outbox, Reply
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.gmail import FakeGmail
from tests.support.fake_google.oauth import FakeOAuth
from tests.support.google_auth import GMAIL_MODIFY, GMAIL_SEND, ORGANIZER, GoogleSetup
from tests.support.ticks import program_start, tick

GMAIL_READONLY = "https://www.googleapis.com/auth/gmail.readonly"


@pytest.fixture
def google(tmp_path: Path) -> Iterator[tuple[GoogleSetup, FakeGmail]]:
    with FakeGoogle() as fake:
        setup = GoogleSetup(fake, FakeOAuth(fake), tmp_path)
        gmail = FakeGmail(fake)
        gmail.mailbox(ORGANIZER)
        yield setup, gmail


def gmail_config(google: GoogleSetup, delegated: list[str], *, read_sent: bool) -> Path:
    google.oauth.users.add(ORGANIZER)
    account = google.oauth.add_service_account(delegated=delegated)
    google.oauth.key_file(google.folder / "key.json", account)
    path = google.config(google.service_auth(), roles=("send", "receive"))
    if read_sent:
        path.write_text(path.read_text().replace("send: {provider: gmail,", "send: {provider: gmail, read_sent: true,"))
    return path


def test_the_daemon_sends_through_gmail_and_reads_the_replies_back(google, tmp_path: Path) -> None:
    setup, gmail = google
    cfg = load_config(gmail_config(setup, [GMAIL_SEND, GMAIL_READONLY, GMAIL_MODIFY], read_sent=True))
    state = tmp_path / "state"
    now = program_start(cfg) + timedelta(days=4)
    program = open_program(cfg, state, VirtualClock(now))
    try:
        assert isinstance(program.sender, GmailSender) and isinstance(program.inbox, GmailInbox)
    finally:
        program.close()
    tick(state, cfg, program_start(cfg) - timedelta(days=1))
    tick(state, cfg, now)
    sent = [email.message_from_bytes(raw, policy=email.policy.default) for raw in gmail.sent_by(ORGANIZER)]
    request = next(m for m in sent if m["X-Coachd-Kind"] == "notes-request")
    reply_to = email.utils.parseaddr(str(request["Reply-To"]))[1]
    reply = (f"From: {email.utils.parseaddr(str(request['To']))[1]}\r\nTo: {reply_to}\r\n"
             f"Subject: Re: {request['Subject']}\r\nMessage-ID: <notes-1@client.example>\r\n\r\n"
             "Conclusions:\r\n- Lead with value\r\n").encode()
    gmail.deliver(reply_to, reply)
    tick(state, cfg, now + timedelta(minutes=30))
    program = open_program(cfg, state, VirtualClock(now))
    try:
        with program.store.session() as db:
            rows = list(db.scalars(select(Outbox)))
            (answer,) = db.scalars(select(Reply))
            assert (answer.status, answer.kind) == ("handled", "notes-request")
    finally:
        program.close()
    assert rows and {row.status for row in rows} == {"sent"}
    sent_ids = [str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])
                for raw in gmail.sent_by(ORGANIZER)]
    assert sorted(sent_ids) == sorted(row.message_id for row in rows)  # each once
    assert all(len(m.labels) == 2 for m in gmail.mailbox(ORGANIZER).messages.values() if "INBOX" in m.labels)


@pytest.mark.parametrize("read_sent", [False, True])
def test_read_sent_is_asked_for_at_login_and_checked_online(google, tmp_path: Path, read_sent: bool) -> None:
    setup, _ = google
    delegated = [GMAIL_SEND, GMAIL_MODIFY] + ([GMAIL_READONLY] if read_sent else [])
    cfg = load_config(gmail_config(setup, delegated, read_sent=read_sent))
    (account,) = accounts(cfg)
    assert account.scopes == sorted(delegated)
    lines = [str(line) for line in online_checks(cfg, tmp_path / "state", timeout=5)]
    assert all(line.startswith("ok") for line in lines), lines
    assert any("Gmail Sent readable" in line for line in lines) is read_sent
