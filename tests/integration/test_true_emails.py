"""Every email says what is true when it goes out: the order of the mails, what is booked, what came before.

Each test ticks the daemon at the moments that matter (tests/support/ticks.py) and reads the emails it wrote.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from coachd.config import ProgramConfig, load_config, load_config_text
from coachd.model.types import BookedSeries, SessionKind
from coachd.observe.observer import Observer
from coachd.runtime.clock import VirtualClock
from coachd.runtime.wiring import open_program
from tests.support.ticks import EXAMPLE, program_start, tick


def booked(state: Path, cfg: ProgramConfig) -> list[BookedSeries]:
    program = open_program(cfg, state, VirtualClock(program_start(cfg)))
    try:
        return Observer(program.store, program.id).observe().booked()
    finally:
        program.close()


def of_kind(series: list[BookedSeries], kind: SessionKind) -> BookedSeries:
    return next(s for s in series if s.spec.kind is kind)


def mails(state: Path, kind: str) -> list[EmailMessage]:
    found = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in sorted((state / "mail").glob(f"*-{kind}-*.eml"))]
    return [m for m in found if m["X-Coachd-Kind"] == kind]  # type: ignore[misc]


def text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


def sent_at(message: EmailMessage) -> datetime:
    return email.utils.parsedate_to_datetime(str(message["Date"]))


def with_mail(cfg: ProgramConfig, **sections: str) -> ProgramConfig:
    source = EXAMPLE.read_text()
    for name, value in sections.items():
        head = f"  {name}:"
        line = next(line for line in source.splitlines() if line.startswith(head))
        source = source.replace(line, f"{head} {value}")
    return load_config_text(source, EXAMPLE)


@pytest.fixture(scope="module")
def cfg() -> ProgramConfig:
    return load_config(EXAMPLE)


def test_the_kickoff_agenda_asks_nothing_about_last_time(tmp_path, cfg):
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    kickoff = of_kind(booked(tmp_path, cfg), SessionKind.KICKOFF).occurrences()[0]
    tick(tmp_path, cfg, kickoff.start - timedelta(hours=23))
    agendas = [m for m in mails(tmp_path, "agenda") if m["X-Coachd-Session"] == kickoff.session_id]
    assert agendas
    for message in agendas:
        assert "last time" not in text(message).lower() and "since we last" not in text(message).lower()
        assert "What got in the way" not in text(message)  # the bank's questions about before are all left out
        # Notes may come in before the feedback request (1 h) or not: the order is not promised.
        assert "then a short feedback request" not in text(message)
    host = of_kind(booked(tmp_path, cfg), SessionKind.KICKOFF).spec.host
    afterwards = {("feedback" in text(m)) for m in agendas if host.email not in str(m["To"])}
    assert afterwards == {True}
    assert all("feedback" not in text(m) for m in agendas if host.email in str(m["To"]))


def test_the_kickoff_summary_names_the_teams_next_session_and_the_feedback_that_went_first(tmp_path, cfg):
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    series = booked(tmp_path, cfg)
    kickoff = of_kind(series, SessionKind.KICKOFF).occurrences()[0]
    tick(tmp_path, cfg, kickoff.end + timedelta(hours=2))  # the feedback request, 1 h after
    tick(tmp_path, cfg, kickoff.end + timedelta(hours=25))  # the summary, 24 h after
    summaries = [m for m in mails(tmp_path, "summary") if m["X-Coachd-Session"] == kickoff.session_id]
    requests = {str(m["To"]) for m in mails(tmp_path, "feedback-request")
                if m["X-Coachd-Session"] == kickoff.session_id}
    assert summaries and requests
    groups = [s for s in series if s.spec.kind is SessionKind.GROUP]
    for summary in summaries:
        body = text(summary)
        assert "Not scheduled yet" not in body
        # The next session a member has is their team's weekly session, with its title.
        assert any(g.spec.title in body for g in groups) or "One-to-one" in body or "circle" in body.lower()
        assert "follows" not in body
        if str(summary["To"]) in requests:
            assert "If you have not answered the feedback request yet" in body


def test_a_summary_before_the_feedback_request_says_it_follows(tmp_path, cfg):
    early = with_mail(cfg, summary="{after: 15m}", feedback="{after: 2h, remind: 3d}")
    tick(tmp_path, early, program_start(early) - timedelta(days=1))
    kickoff = of_kind(booked(tmp_path, early), SessionKind.KICKOFF).occurrences()[0]
    tick(tmp_path, early, kickoff.end + timedelta(minutes=30))
    summaries = [m for m in mails(tmp_path, "summary") if m["X-Coachd-Session"] == kickoff.session_id]
    assert summaries and not [m for m in mails(tmp_path, "feedback-request")
                              if m["X-Coachd-Session"] == kickoff.session_id]
    host = of_kind(booked(tmp_path, early), SessionKind.KICKOFF).spec.host
    for summary in summaries:
        if host.email in str(summary["To"]):
            assert "feedback" not in text(summary).lower()  # the host is not asked
        else:
            assert "A short feedback request follows" in text(summary)


def test_a_program_shorter_than_a_year_is_never_called_a_year_and_its_last_summary_says_it_was_the_last(tmp_path):
    source = EXAMPLE.read_text().replace("ends: 2027-12-17", "ends: 2027-03-26")
    assert source != EXAMPLE.read_text()
    short = load_config_text(source, EXAMPLE)
    tick(tmp_path, short, program_start(short) - timedelta(days=1))
    invitations = mails(tmp_path, "invitation")
    assert invitations
    assert not [m for m in invitations if "year" in text(m).lower()]
    series = booked(tmp_path, short)
    wrapup = of_kind(series, SessionKind.WRAPUP).occurrences()[0]
    tick(tmp_path, short, wrapup.end + timedelta(hours=25))
    summaries = [m for m in mails(tmp_path, "summary") if m["X-Coachd-Session"] == wrapup.session_id]
    assert summaries
    last = 0
    for summary in summaries:
        person = short.person_id_by_email[email.utils.parseaddr(str(summary["To"]))[1]]
        later = [o for s in series if person in {a.person_id for a in s.spec.everyone()}
                 for o in s.occurrences() if not o.cancelled and o.start > wrapup.start]
        assert "you will get an invitation" not in text(summary)
        if later:  # a one-to-one in the program's last days: named, not "the last"
            assert "this was your last session" not in text(summary)
        else:
            assert "this was your last session of" in text(summary)
            last += 1
    assert last, "the test needs someone whose last session is the wrap-up"


def test_a_late_digest_lists_only_what_is_still_to_come(tmp_path, cfg):
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))
    series = booked(tmp_path, cfg)
    period_end = program_start(cfg) + timedelta(weeks=4)
    # Written a day late (the daemon was down): what happened on that day is no longer "next".
    late = period_end + timedelta(hours=30)
    tick(tmp_path, cfg, late)
    digest, = mails(tmp_path, "digest")
    body = text(digest)
    happened = [(s.spec.title, o) for s in series if s.spec.kind is not SessionKind.INDIVIDUAL
                for o in s.occurrences() if period_end <= o.start < late]
    assert happened, "the test needs a session between the period's end and the late digest"
    coming = body.split("What comes next", 1)[1].upper() if "What comes next" in body else body.upper()
    for title, occurrence in happened:
        local = occurrence.start.astimezone(cfg.program.zone)
        assert f"{title}: {local:%a %-d %b}".upper() not in coming, (title, local)
    assert sent_at(digest) >= late - timedelta(minutes=5)
