"""Replies read from Gmail go through the unchanged inbox pipeline (tokens, matching, parsing, quarantine):
replies written by other mail clients to the plus-addressed reply address, each handled once."""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.observe.inbox import read_inbox
from coachd.providers.google.gmail_inbox import GmailInbox
from coachd.providers.google.gmail_send import GmailSender
from coachd.providers.google.gmail_service import GMAIL_MODIFY, GMAIL_SEND
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from coachd.store.models import Reply
from tests.support.gmail_fixtures import (
    ORGANIZER,
    Sleeps,
    TestClock,
    fake_gmail,
    organizer_service,
    quick_policy,
    service_for,
)
from tests.support.ticks import EXAMPLE, program_start, tick

FEEDBACK = "Rating: 4\n1. The role play on pricing\n2. More time on objections\n3. Yes\nRepeat: role plays\n"


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    return load_config(EXAMPLE)


def address(message: EmailMessage, header: str) -> str:
    return email.utils.parseaddr(str(message[header]))[1]


def outlook_reply(request: EmailMessage, body: str) -> bytes:
    """How Outlook answers: "RE:", Thread-Topic/Thread-Index, the original quoted under a rule, CRLF,
    quoted-printable text beside HTML, to the Reply-To (plus) address."""
    sender = address(request, "To")
    quoted = (f"________________________________\r\nFrom: Northwind Coaching Office <{ORGANIZER}>\r\n"
              f"Sent: Friday, January 8, 2027 9:00 AM\r\nSubject: {request['Subject']}\r\n\r\n> How was it?\r\n")
    text = body.replace("\n", "\r\n") + "\r\n" + quoted
    return (f"From: Ana Souza <{sender}>\r\nTo: \"Northwind Coaching Office\" <{address(request, 'Reply-To')}>\r\n"
            f"Subject: RE: {request['Subject']}\r\nThread-Topic: {request['Subject']}\r\n"
            "Thread-Index: AQHZ1234567890abcdef==\r\n"
            f"Message-ID: <DM6PR01MB1234.namprd01.prod.outlook.com>\r\n"
            f"In-Reply-To: {request['Message-ID']}\r\nReferences: {request['Message-ID']}\r\n"
            "Date: Fri, 8 Jan 2027 16:02:11 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=\"_000_outlook_\"\r\n\r\n"
            "--_000_outlook_\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + text +
            "\r\n--_000_outlook_\r\nContent-Type: text/html; charset=\"us-ascii\"\r\n\r\n"
            "<html><body><p>Rating: 4</p></body></html>\r\n--_000_outlook_--\r\n").encode()


def test_replies_from_other_clients_to_the_plus_address_are_handled_once(tmp_path: Path, cfg) -> None:
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4))
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "mail").glob("*.eml"))]
    requests = [m for m in sent if m["X-Coachd-Kind"] == "feedback-request"]
    first, second = requests[0], next(m for m in requests if address(m, "To") != address(requests[0], "To"))
    assert "+" in address(first, "Reply-To")
    now = program_start(cfg) + timedelta(days=4, minutes=10)
    clock = TestClock(now)
    with fake_gmail(clock) as (fake, gmail):
        # Outlook's reply reaches the organizer's mailbox through its plus address.
        gmail.deliver(address(first, "Reply-To"), outlook_reply(first, FEEDBACK))
        # A Workspace colleague answers from Gmail itself: the fake delivers it to the plus address.
        colleague = address(second, "To")
        gmail.mailbox(colleague)
        reply = EmailMessage()
        reply["From"], reply["To"] = colleague, address(second, "Reply-To")
        reply["Subject"], reply["Message-ID"] = f"Re: {second['Subject']}", "<CAGmail-1@mail.gmail.com>"
        reply.set_content("Rating: 5\n\nOn Fri, Jan 8, 2027 at 9:00 AM Northwind Coaching Office wrote:\n> How was it?\n")
        GmailSender(service_for(fake, colleague, [GMAIL_SEND]), state_dir=tmp_path / "colleague",
                    clock=clock).send_raw(reply.as_bytes(), "colleague-reply")
        assert len(gmail.held(ORGANIZER)) == 2

        program = open_program(cfg, tmp_path, VirtualClock(now))
        try:
            program.inbox = GmailInbox(organizer_service(fake, (GMAIL_MODIFY,)), state_dir=tmp_path,
                                       policy=quick_policy(Sleeps()), clock=clock)
            assert read_inbox(program, Executor(program), now) == 2
            assert read_inbox(program, Executor(program), now) == 0  # marked in Gmail: not read again
            with program.store.session() as db:
                rows = {row.message_id: row for row in db.scalars(select(Reply))}
        finally:
            program.close()
        outlook = rows["<DM6PR01MB1234.namprd01.prod.outlook.com>"]
        assert (outlook.status, outlook.kind, outlook.rating) == ("handled", "feedback-request", 4)
        assert outlook.payload["repeat"] == "role plays"
        from_gmail = rows["<CAGmail-1@mail.gmail.com>"]
        assert (from_gmail.status, from_gmail.rating) == ("handled", 5)
        assert all("Label_1" in m.labels for m in gmail.mailbox(ORGANIZER).messages.values())


def test_a_revoked_gmail_login_stops_only_the_reply_job_is_said_once_and_heals(tmp_path: Path, cfg, caplog) -> None:
    from coachd.runtime.jobs import read_replies

    now = program_start(cfg) + timedelta(days=4)
    clock = TestClock(now)
    with fake_gmail(clock) as (fake, gmail):
        gmail.deliver(ORGANIZER, b"From: ana@northwind.example\r\nSubject: hi\r\nMessage-ID: <r1@x>\r\n\r\nhi\r\n")
        program = open_program(cfg, tmp_path, VirtualClock(now))
        try:
            program.inbox = GmailInbox(organizer_service(fake, (GMAIL_MODIFY,)), state_dir=tmp_path,
                                       policy=quick_policy(Sleeps()), clock=clock)
            fake.revoke_access_tokens(ORGANIZER)  # the login was revoked: no refresh can help
            for minutes in (0, 10, 20):
                read_replies(program, Executor(program), now + timedelta(minutes=minutes))
            health = program.health("receive")
            assert health.state is not None and health.state["state"] == "credentials_expired"
            assert len([r for r in caplog.records if r.levelname == "ERROR" and "receive" in r.message]) == 1
            assert len(fake.requests("/gmail/v1/")) == 1  # asked once, not on every pass
            # A person logs in again: the next try (at the latest an hour on) reads the reply.
            program.inbox = GmailInbox(organizer_service(fake, (GMAIL_MODIFY,)), state_dir=tmp_path,
                                       policy=quick_policy(Sleeps()), clock=clock)
            read_replies(program, Executor(program), now + timedelta(hours=2))
            assert health.state is None
            assert all(len(m.labels) == 2 for m in gmail.mailbox(ORGANIZER).messages.values())
        finally:
            program.close()
