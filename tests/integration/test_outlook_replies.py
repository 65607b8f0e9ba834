"""Replies read from Outlook go through the unchanged inbox pipeline (tokens, matching, parsing, quarantine):
a reply written in Outlook to the plus-addressed reply address, and one a colleague in the tenant sends
from their own mailbox through Graph, each handled once and left in the mailbox with coachd's category."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.observe.inbox import read_inbox
from coachd.providers.microsoft.client import GraphClient
from coachd.providers.microsoft.mail_inbox import OutlookInbox
from coachd.providers.microsoft.mail_send import OutlookSender
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from coachd.store.models import Reply
from tests.integration.test_gmail_replies import FEEDBACK, address, outlook_reply
from tests.support.outlook_fixtures import ORGANIZER, TestClock, outlook
from tests.support.ticks import EXAMPLE, program_start, tick


@pytest.fixture(scope="module")
def cfg():  # type: ignore[no-untyped-def]
    return load_config(EXAMPLE)


def test_replies_from_outlook_and_from_a_colleagues_mailbox_are_handled_once(tmp_path: Path, cfg) -> None:
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=4))
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "mail").glob("*.eml"))]
    requests = [m for m in sent if m["X-Coachd-Kind"] == "feedback-request"]
    first, second = requests[0], next(m for m in requests if address(m, "To") != address(requests[0], "To"))
    assert "+" in address(first, "Reply-To")
    now = program_start(cfg) + timedelta(days=4, minutes=10)
    clock = TestClock(now)
    with outlook(tmp_path / "fake", clock) as ol:
        # Outlook's reply reaches the organizer's mailbox through its plus address.
        ol.mail.deliver(address(first, "Reply-To"), outlook_reply(first, FEEDBACK))
        # A colleague in the tenant answers from their own mailbox, through Graph's sendMail.
        colleague = address(second, "To")
        reply = EmailMessage()
        reply["From"], reply["To"] = colleague, address(second, "Reply-To")
        reply["Subject"], reply["Message-ID"] = f"RE: {second['Subject']}", "<SA1PR01MB5678.outlook.com>"
        reply.set_content("Rating: 5\n\nFrom: Northwind Coaching Office\nSent: Friday\n> How was it?\n")
        theirs = ol.client(("Mail.Send", "Mail.Read"))
        colleague_client = GraphClient(theirs.credentials, ol.fake.base_url, colleague, timeout=5,
                                       policy=theirs.policy)
        OutlookSender(colleague_client, state_dir=tmp_path / "colleague", clock=clock).send_raw(
            reply.as_bytes(), "colleague-reply")
        assert len(ol.mail.held(ORGANIZER, "inbox")) == 2

        program = open_program(cfg, tmp_path, VirtualClock(now))
        try:
            program.inbox = OutlookInbox(ol.client(("Mail.ReadWrite",)), state_dir=tmp_path, clock=clock)
            assert read_inbox(program, Executor(program), now) == 2
            assert read_inbox(program, Executor(program), now) == 0  # categorised in Outlook: not read again
            with program.store.session() as db:
                rows = {row.message_id: row for row in db.scalars(select(Reply))}
        finally:
            program.close()
        from_outlook = rows["<DM6PR01MB1234.namprd01.prod.outlook.com>"]
        assert (from_outlook.status, from_outlook.kind, from_outlook.rating) == ("handled", "feedback-request", 4)
        assert from_outlook.payload["repeat"] == "role plays"
        from_colleague = rows["<SA1PR01MB5678.outlook.com>"]
        assert (from_colleague.status, from_colleague.rating) == ("handled", 5)
        assert all(m.categories == ["coachd processed"] for m in ol.mail.in_folder(ORGANIZER, "inbox"))
