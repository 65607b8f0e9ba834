"""The daemon's send job through the Gmail sender while Gmail fails at random (throttling, 5xx, dropped
connections, answers lost after the send was done): every email reaches Gmail's Sent exactly once."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.providers.google.gmail_send import GmailSender
from coachd.providers.google.gmail_service import GMAIL_READONLY, GMAIL_SEND
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from coachd.store.models import Outbox
from tests.support.fake_google import FakeGoogle
from tests.support.gmail_fixtures import ORGANIZER, Sleeps, TestClock, fake_gmail, organizer_service, quick_policy
from tests.support.ticks import EXAMPLE, program_start


def tick_through_gmail(state: Path, cfg, fake: FakeGoogle, clock: TestClock) -> list[Outbox]:  # type: ignore[no-untyped-def]
    """One pass of every job, as a freshly started daemon would do it, sending through Gmail."""
    program = open_program(cfg, state, VirtualClock(clock.now))
    try:
        program.sender = GmailSender(organizer_service(fake, (GMAIL_SEND, GMAIL_READONLY)), state_dir=state,
                                     policy=quick_policy(Sleeps()), clock=clock)
        runner = JobRunner(program, program_jobs(program, Executor(program)))
        for job in runner.jobs:
            runner.run(job, clock.now)
        with program.store.session() as db:
            rows = list(db.scalars(select(Outbox)))
            for row in rows:
                db.expunge(row)
        return rows
    finally:
        program.close()


@pytest.mark.slow
def test_every_email_goes_out_once_while_a_third_of_gmails_answers_fail(tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE)
    clock = TestClock(program_start(cfg) - timedelta(days=1))
    with fake_gmail(clock) as (fake, gmail):
        fake.faults.rate = 0.35  # 429, 403 rate limits, 500, 503, dropped connections, lost answers
        fake.faults.retry_after_seconds = 30
        for _ in range(40):
            tick_through_gmail(tmp_path, cfg, fake, clock)
            clock.advance(timedelta(hours=2))
        faults = Counter(entry.fault for entry in fake.requests("/messages/send") if entry.fault)
        fake.faults.rate = 0.0
        for _ in range(3):  # what is still waiting for its backoff goes out
            rows = tick_through_gmail(tmp_path, cfg, fake, clock)
            clock.advance(timedelta(hours=6))
        sent = gmail.sent_by(ORGANIZER)
    assert faults["lost"] > 0 and faults["drop"] > 0 and faults["429"] > 0, faults
    assert len(sent) > 50
    assert rows and {row.status for row in rows} == {"sent"}
    message_ids = Counter(str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])
                          for raw in sent)
    assert message_ids == Counter(row.message_id for row in rows), "each email in Sent exactly once"
