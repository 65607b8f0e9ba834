"""The daemon's jobs against a real store and the embedded providers: idempotent ticks and restarts."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events
from sqlalchemy import select

from coachd.runtime.clock import VirtualClock
from coachd.config import load_config
from coachd.runtime.jobs import Job, JobOutcome
from coachd.runtime.wiring import open_program
from coachd.runtime.runner import JobRunner
from coachd.store.models import JobRun, Reply
from tests.support.ticks import EXAMPLE, program_start, tick



@pytest.fixture
def cfg():
    return load_config(EXAMPLE)






def files(state: Path) -> dict[str, list[str]]:
    return {sub: sorted(p.name for p in (state / sub).glob("*")) for sub in ("calendar", "mail")}


def test_repeated_ticks_and_restarts_book_and_send_nothing_twice(tmp_path, cfg, database_url):
    now = program_start(cfg) + timedelta(days=3)
    first, counts = tick(tmp_path, cfg, now, database_url)
    assert counts["series"] > 0 and counts["outbox"] > 0
    books = [r for r in first if r.kind == "book"]
    sends = [r for r in first if r.kind == "send"]
    assert len(books) == counts["series"]
    assert len(sends) == counts["outbox"]
    snapshot = files(tmp_path)
    assert len(snapshot["calendar"]) == counts["series"]
    assert len(snapshot["mail"]) == counts["outbox"]

    again, counts_again = tick(tmp_path, cfg, now, database_url)  # a restart at the same instant
    assert [r for r in again if r.kind in ("book", "queue", "send")] == []
    assert counts_again == counts
    assert files(tmp_path) == snapshot


def test_invitations_carry_the_series_headers_and_a_request(tmp_path, cfg):
    tick(tmp_path, cfg, program_start(cfg) + timedelta(days=1))
    invitations = []
    for path in (tmp_path / "mail").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["X-Coachd-Kind"] == "invitation":
            invitations.append(message)
    assert invitations
    for message in invitations:
        assert message["X-Coachd-Series"]
        calendars = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        assert calendars and "METHOD:REQUEST" in calendars[0].get_content()
        assert message["X-Coachd-Series"] in calendars[0].get_content()


def test_a_failing_job_is_logged_recorded_and_does_not_stop_the_others(tmp_path, cfg, caplog):
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    calls = []

    def broken(now):
        raise RuntimeError("calendar server said no")

    def healthy(now):
        calls.append(now)
        return JobOutcome()

    runner = JobRunner(program, [Job("sync", timedelta(minutes=15), broken), Job("send", timedelta(minutes=1), healthy)])
    now = program.clock.now()
    with caplog.at_level(logging.ERROR):
        assert runner.run(runner.jobs[0], now) is None
        assert runner.run(runner.jobs[1], now) is not None
        assert runner.run(runner.jobs[0], now + timedelta(minutes=15)) is None  # retried next cycle
    assert calls == [now]
    assert "job sync failed" in caplog.text and "calendar server said no" in caplog.text
    with program.store.session() as db:
        errors = db.scalars(select(JobRun.error).where(JobRun.ok.is_(False))).all()
    assert errors == ["RuntimeError: calendar server said no"] * 2
    program.close()


def test_action_records_are_json_lines(tmp_path, cfg):
    records, _ = tick(tmp_path, cfg, program_start(cfg) + timedelta(days=1))
    for record in records:
        line = json.dumps(record.as_json())
        assert json.loads(line)["key"] == record.key


def test_an_unreadable_reply_is_quarantined_and_does_not_hold_up_the_others(tmp_path, cfg):
    tick(tmp_path, cfg, program_start(cfg) - timedelta(days=1))  # books the program
    now = program_start(cfg) + timedelta(hours=12)  # agendas of the first sessions are out
    tick(tmp_path, cfg, now)
    sent = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((tmp_path / "mail").glob("*.eml"))]
    agenda = next(m for m in sent if m["X-Coachd-Kind"] == "agenda")
    to_addr = email.utils.parseaddr(str(agenda["To"]))[1]

    def reply(message_id: str, charset: str, body: bytes) -> bytes:
        return (f"From: {to_addr}\r\nTo: coach@example.org\r\nSubject: Re: agenda\r\n"
                f"Message-ID: <{message_id}@mail.example>\r\nIn-Reply-To: {agenda['Message-ID']}\r\n"
                f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={charset}\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + body

    program = open_program(cfg, tmp_path, VirtualClock(now))
    program.inbox.deliver(reply("bad", "x-no-such-charset", "Topic: pricing \xe9".encode("latin-1")), "1-bad")
    program.inbox.deliver(b"\xff\xfe not mail at all \x00\r\n\r\n", "2-garbage")
    program.inbox.deliver(reply("good", "utf-8", "Topic: négociation".encode()), "3-good")
    program.close()

    tick(tmp_path, cfg, now + timedelta(minutes=5))
    program = open_program(cfg, tmp_path, VirtualClock(now))
    with program.store.session() as db:
        rows = {r.message_id: (r.status, r.payload) for r in db.scalars(select(Reply))}
    program.close()
    assert rows["<good@mail.example>"][0] == "handled"
    assert "négociation" in rows["<good@mail.example>"][1]["text"]
    # An unknown charset is read as UTF-8 with replacements rather than dropped.
    assert rows["<bad@mail.example>"][0] == "handled"
    assert "Topic: pricing" in rows["<bad@mail.example>"][1]["text"]
    assert len(rows) == 3 and list((tmp_path / "inbox" / "new").glob("*")) == []


def test_a_member_leaving_is_held_then_applied_on_confirmation_with_itip_cancels(tmp_path, cfg, caplog):
    from coachd.observe.observer import CONFIRMED_META

    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now)
    team = cfg.teams[0]
    leaving = team.members[-1]
    smaller = cfg.model_copy(update={"teams": [team.model_copy(update={"members": team.members[:-1]}),
                                               *cfg.teams[1:]]})
    later = now + timedelta(weeks=2)
    with caplog.at_level(logging.WARNING):
        records, _ = tick(tmp_path, smaller, later)
    # A year of one-to-ones is more than max_cancellations: nothing is cancelled, the admin is told.
    assert not [r for r in records if r.kind == "book" and r.detail["series"] == f"individual:{leaving}"]
    assert "held:" in caplog.text and f"individual:{leaving}" in caplog.text
    hold_id = caplog.text.split("coachd confirm CONFIG ")[1].split("`")[0]

    program = open_program(smaller, tmp_path, VirtualClock(later))
    program.set_meta(CONFIRMED_META, [hold_id])
    program.close()
    records, _ = tick(tmp_path, smaller, later + timedelta(minutes=5))
    ended = [r for r in records if r.kind == "book" and r.detail["series"] == f"individual:{leaving}"]
    assert ended and ended[0].detail["reason"] == "no longer in the config"
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in (tmp_path / "mail").glob("*.eml")]
    cancellations = [m for m in mails if m["X-Coachd-Kind"] == "cancellation"
                     and leaving in str(m["To"]).lower()]
    methods = set()
    for message in cancellations:
        [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"
                  and p.get_content_disposition() != "attachment"]
        methods.add(part.get_param("method"))
    # Off the group (CANCEL to them alone) and their one-to-ones ended (the shortened series, as a REQUEST).
    assert methods == {"CANCEL", "REQUEST"}
    # The organizer's calendar keeps the one-to-ones already held and nothing after.
    path = next((tmp_path / "calendar").glob(f"*individual-{leaving}*"))
    events = recurring_ical_events.of(icalendar.Calendar.from_ical(path.read_bytes())).between(
        program_start(cfg) - timedelta(weeks=1), program_start(cfg) + timedelta(weeks=60))
    assert events and all(e["DTSTART"].dt < later for e in events)


def test_coaches_swapping_teams_end_the_old_series_and_start_new_ones(tmp_path, cfg, database_url):
    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now, database_url)
    americas, apac, emea = cfg.teams
    swapped = cfg.model_copy(update={"teams": [americas.model_copy(update={"coach": emea.coach}), apac,
                                               emea.model_copy(update={"coach": americas.coach})]})
    later = now + timedelta(weeks=3)
    records, counts = tick(tmp_path, swapped, later, database_url)
    books = [r for r in records if r.kind == "book"]
    ended = [r for r in books if "~" in r.detail["series"]]
    started = [r for r in books if r.detail["series"] in ("group:americas", "group:emea") and r.detail["sequence"] == 0]
    assert {r.detail["series"].split("~")[0] for r in ended} >= {"group:americas", "group:emea"}
    assert len(started) == 2 and all(r.detail["uid"].split("@")[0].endswith("-2") for r in started)
    again, counts_again = tick(tmp_path, swapped, later + timedelta(minutes=5), database_url)
    assert not [r for r in again if r.kind == "book"] and counts_again["series"] == counts["series"]


def test_check_ins_follow_the_coachees_state_through_the_store(tmp_path, cfg, database_url):
    from coachd.observe.observer import STATES_META

    def set_state(value: dict, at: datetime) -> None:
        store_cfg = cfg if not database_url else cfg.model_copy(
            update={"store": cfg.store.model_copy(update={"url": database_url})})
        program = open_program(store_cfg, tmp_path, VirtualClock(at))
        program.set_meta(STATES_META, value)
        program.close()

    now = program_start(cfg) + timedelta(days=3)
    tick(tmp_path, cfg, now, database_url)
    for weeks, state in ((4, "stress"), (8, "steady"), (12, "stress")):
        at = now + timedelta(weeks=weeks)
        set_state({"ana": state}, at)
        records, _ = tick(tmp_path, cfg, at, database_url)
        books = [r for r in records if r.kind == "book" and r.detail["series"].startswith("check_in:ana")]
        assert books, (weeks, state)
    again, _ = tick(tmp_path, cfg, at + timedelta(minutes=5), database_url)
    assert not [r for r in again if r.kind == "book"]
    check_in_files = list((tmp_path / "calendar").glob("*check-in-ana*"))
    assert len(check_in_files) == 2  # the first stress period's series (ended) and the second's
