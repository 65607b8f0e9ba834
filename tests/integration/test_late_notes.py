"""Notes that come after the summary went out reach people (issue 15, point 5): the attendees get an updated
summary with the conclusions and actions, once, threaded under the first, and the next agenda carries
the actions as open commitments. Notes that were in the summary already send nothing more."""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from tests.support.ticks import EXAMPLE, program_start, tick

NOTES = ("Conclusions:\n- Lead with the business case, not the discount\n"
         "Actions:\n- Ana: send the Fabrikam proposal by 2027-02-05\n")


@pytest.fixture(scope="module")
def cfg():
    return load_config(EXAMPLE)


def mail_in(state: Path) -> list[EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted((state / "mail").glob("*.eml"))]


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def of(messages: list[EmailMessage], kind: str, session: str) -> list[EmailMessage]:
    return [m for m in messages if m["X-Coachd-Kind"] == kind and m["X-Coachd-Session"] == session]


def reply(request: EmailMessage, body: str, name: str) -> bytes:
    """The coach's answer to the notes request, to its signed Reply-To address."""
    sender = email.utils.parseaddr(str(request["To"]))[1]
    to = email.utils.parseaddr(str(request["Reply-To"]))[1]
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: Re: {request['Subject']}\r\n"
            f"Message-ID: <{name}@client.example>\r\nDate: Fri, 15 Jan 2027 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + body.replace("\n", "\r\n")).encode()


def deliver_then_tick(state: Path, cfg, raw: bytes, name: str, now: datetime) -> None:
    program = open_program(cfg, state, VirtualClock(now))
    try:
        program.inbox.deliver(raw, name)
    finally:
        program.close()
    tick(state, cfg, now)


def run_until(state: Path, cfg, start: datetime, days: float) -> datetime:
    """Tick every 6 hours for `days` days from `start`, as a daemon that is up would; returns the last time."""
    now = start
    for _ in range(int(days * 4)):
        now += timedelta(hours=6)
        tick(state, cfg, now)
    return now


def first_group_summary(state: Path, cfg, start: datetime) -> tuple[str, EmailMessage, datetime]:
    """Tick every 6 hours until the first group session's summary went out (without notes: none came)."""
    now = start
    while now < start + timedelta(weeks=3):
        now = run_until(state, cfg, now, 1)
        messages = mail_in(state)
        for request in messages:
            if (request["X-Coachd-Kind"] == "notes-request" and "-group-" in str(request["X-Coachd-Series"])
                    and of(messages, "summary", str(request["X-Coachd-Session"]))):
                return str(request["X-Coachd-Session"]), request, now
    raise AssertionError("no group session's summary in three weeks")


def test_notes_after_the_summary_send_an_updated_summary_once_and_reach_the_next_agenda(tmp_path, cfg):
    start = program_start(cfg) - timedelta(days=1)
    tick(tmp_path, cfg, start)
    session, request, now = first_group_summary(tmp_path, cfg, start)
    first = of(mail_in(tmp_path), "summary", session)
    assert first and all("None recorded." in text_of(m) for m in first), "the summary went out without notes"

    now += timedelta(hours=1)
    deliver_then_tick(tmp_path, cfg, reply(request, NOTES, "late"), "late", now)
    summaries = of(mail_in(tmp_path), "summary", session)
    updated = [m for m in summaries if m not in first and str(m["Message-ID"]) not in
               {str(f["Message-ID"]) for f in first}]
    assert sorted(str(m["To"]) for m in updated) == sorted(str(m["To"]) for m in first), "everyone who got it"
    by_recipient = {str(m["To"]): m for m in first}
    for message in updated:
        assert str(message["Subject"]).startswith("Updated summary: ")
        body = text_of(message)
        assert "Lead with the business case, not the discount" in body
        assert "send the Fabrikam proposal" in body and "None recorded." not in body
        parent = by_recipient[str(message["To"])]["Message-ID"]
        assert str(message["In-Reply-To"]) == str(parent) and str(parent) in str(message["References"])

    # Once: more ticks, and a second notes reply, send no more summaries for the session.
    deliver_then_tick(tmp_path, cfg, reply(request, NOTES + "- Ben: call Contoso\n", "again"), "again",
                      now + timedelta(hours=2))
    run_until(tmp_path, cfg, now + timedelta(hours=2), 8)
    messages = mail_in(tmp_path)
    assert len(of(messages, "summary", session)) == len(first) + len(updated)

    # The series' next agenda holds the actions as open commitments.
    agendas = [m for m in messages if m["X-Coachd-Kind"] == "agenda" and m["X-Coachd-Series"] == request["X-Coachd-Series"]
               and str(m["X-Coachd-Session"]) > session]
    assert agendas, "the next session's agenda went out"
    assert all("send the Fabrikam proposal" in text_of(m) for m in agendas), "among the open commitments"


def test_notes_in_time_go_in_the_summary_and_a_later_reply_sends_nothing_more(tmp_path, cfg):
    start = program_start(cfg) - timedelta(days=1)
    tick(tmp_path, cfg, start)
    now = run_until(tmp_path, cfg, start, 12)
    messages = mail_in(tmp_path)
    # A notes request whose session has no summary yet: the notes come in time for it.
    waiting = [m for m in messages if m["X-Coachd-Kind"] == "notes-request"
               and not of(messages, "summary", str(m["X-Coachd-Session"]))]
    assert waiting, "a session ended in the last day"
    request = waiting[0]
    session = str(request["X-Coachd-Session"])
    deliver_then_tick(tmp_path, cfg, reply(request, NOTES, "in-time"), "in-time", now + timedelta(minutes=5))
    first = of(mail_in(tmp_path), "summary", session)
    assert first and all("Lead with the business case" in text_of(m) for m in first)
    later = now + timedelta(days=3)
    deliver_then_tick(tmp_path, cfg, reply(request, NOTES + "- Ben: call Contoso\n", "later"), "later", later)
    run_until(tmp_path, cfg, later, 2)
    assert len(of(mail_in(tmp_path), "summary", session)) == len(first), "no update for notes it had"
