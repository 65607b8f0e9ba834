"""Each queued email is claimed before it is sent: drainers that overlap never send one twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from coachd.runtime.clock import VirtualClock
from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.runtime.jobs import program_jobs
from coachd.execute.outbox import CLAIM_LEASE, claim, drain
from coachd.runtime.wiring import open_program
from coachd.providers.base import MailSender
from coachd.runtime.runner import JobRunner
from coachd.store.models import Outbox
from tests.support.ticks import EXAMPLE, program_start


class CountingSender(MailSender):
    def __init__(self, during_first_send=None):
        self.sent: list[str] = []
        self.during_first_send = during_first_send

    def send(self, message, key: str) -> None:
        if self.during_first_send is not None:
            hook, self.during_first_send = self.during_first_send, None
            hook()  # another drainer runs right now, between our claim and our send
        self.sent.append(key)


def queued_program(tmp_path, database_url):
    cfg = load_config(EXAMPLE)
    cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"url": database_url})})
    now = program_start(cfg) + timedelta(days=3)
    # Book and queue, but send nothing yet: the send job is left out.
    program = open_program(cfg, tmp_path, VirtualClock(now))
    runner = JobRunner(program, program_jobs(program, Executor(program)))
    for job in runner.jobs:
        if job.name != "send":
            runner.run(job, now)
    return program, now


def test_overlapping_drainers_send_each_email_exactly_once(tmp_path, database_url):
    program, now = queued_program(tmp_path, database_url)
    try:
        executor = Executor(program)
        other = CountingSender()

        def other_drainer() -> None:
            program.sender = other
            drain(program, executor, now)
            program.sender = first

        first = CountingSender(during_first_send=other_drainer)
        program.sender = first
        drain(program, executor, now)
        with program.store.session() as db:
            keys = db.scalars(select(Outbox.key)).all()
            statuses = set(db.scalars(select(Outbox.status)).all())
        assert len(keys) > 10 and statuses == {"sent"}
        assert sorted(first.sent + other.sent) == sorted(keys)  # every one once, none twice
        assert first.sent and other.sent
    finally:
        program.close()


def test_an_email_claimed_by_a_drainer_that_died_is_sent_after_the_lease(tmp_path, database_url):
    program, now = queued_program(tmp_path, database_url)
    try:
        with program.store.session() as db:
            row_id = db.scalars(select(Outbox.id).order_by(Outbox.id)).first()
        assert claim(program, row_id, now)  # ...and the process is killed before sending
        assert not claim(program, row_id, now)
        sender = CountingSender()
        program.sender = sender
        drain(program, Executor(program), now)
        with program.store.session() as db:
            key = db.get(Outbox, row_id).key
        assert key not in sender.sent
        drain(program, Executor(program), now + CLAIM_LEASE)
        assert sender.sent.count(key) == 1
    finally:
        program.close()
