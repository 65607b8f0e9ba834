"""How a pass copes with a calendar that fails: one series skipped, retry-after honoured, expired credentials shown."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from coachd.config import load_config
from coachd.execute.executor import ActionRecord, Executor
from coachd.providers.base import CredentialsExpired, Permanent, Throttled, Transient
from coachd.providers.retry import RetryPolicy
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from coachd.store.models import JobRun, Outbox, Series
from tests.support.cli import invoke
from tests.support.failing_calendar import FailingCalendar
from tests.support.ticks import EXAMPLE, program_start


@pytest.fixture
def cfg():
    return load_config(EXAMPLE)


class Pass:
    """The example program with a calendar that fails as told, run job by job on a virtual clock,
    its retries sleeping into a list instead of for real."""

    def __init__(self, state, cfg, fail):
        self.now = program_start(cfg) + timedelta(days=1)
        self.program = open_program(cfg, state, VirtualClock(self.now))
        self.calendar = FailingCalendar(self.program.calendar, fail)
        self.program.calendar = self.calendar
        self.slept: list[float] = []
        self.program.retry_policy = RetryPolicy(sleep=self.slept.append)
        self.records: list[ActionRecord] = []
        self.runner = JobRunner(self.program, program_jobs(self.program, Executor(self.program, self.records.append)))

    def run(self, after: timedelta = timedelta(0)) -> None:
        self.now += after
        for job in self.runner.jobs:
            assert self.runner.run(job, self.now) is not None, f"job {job.name} failed"

    def booked(self) -> set[str]:
        with self.program.store.session() as db:
            return set(db.scalars(select(Series.uid)))

    def invited(self) -> set[str]:
        with self.program.store.session() as db:
            return set(db.scalars(select(Outbox.series_uid).where(Outbox.kind == "invitation")))

    def upserts(self) -> list[str | None]:
        return [uid for operation, uid in self.calendar.calls if operation == "upsert"]


@pytest.fixture
def passes(tmp_path, cfg):
    opened = []

    def make(fail):
        opened.append(Pass(tmp_path, cfg, fail))
        return opened[-1]

    yield make
    for run in opened:
        run.program.close()


def test_one_series_the_calendar_refuses_is_skipped_and_the_others_are_booked(passes, caplog):
    refusing = {"uid": None, "on": True}

    def fail(operation, uid):
        if operation == "upsert" and refusing["on"] and refusing["uid"] in (None, uid):
            refusing["uid"] = uid
            return Permanent(f"400 invalid event {uid}")
        return None

    run = passes(fail)
    with caplog.at_level(logging.WARNING):
        run.run()
    uid = refusing["uid"]
    booked = run.booked()
    assert uid is not None and uid not in booked and len(booked) >= 5
    # The others are invited; the refused one is not: its invitation waits for its booking.
    assert run.invited() == booked
    assert "not written to the calendar" in caplog.text and uid in caplog.text
    # Permanent: asked once, not again in the same pass (the plan job plans again after booking).
    assert run.upserts().count(uid) == 1 and run.slept == []

    refusing["on"] = False
    run.run(timedelta(minutes=15))
    assert uid in run.booked() and uid in run.invited()


def test_a_transient_failure_is_retried_within_the_pass_with_backoff(passes):
    failures = []

    def fail(operation, uid):
        if operation == "upsert" and len(failures) < 2:
            failures.append(uid)
            return Transient("503 backend error")
        return None

    run = passes(fail)
    run.run()
    uid = failures[0]
    assert failures == [uid, uid] and uid in run.booked() and run.invited() == run.booked()
    assert len(run.slept) == 2 and 2 <= run.slept[0] < run.slept[1] <= 5


def test_a_calendar_that_cannot_sync_leaves_the_bookings_to_go_on(passes, caplog):
    def fail(operation, uid):
        return Transient("connection reset") if operation == "sync" else None

    run = passes(fail)
    with caplog.at_level(logging.WARNING):
        run.run()
    assert "calendar sync skipped this pass" in caplog.text
    assert len(run.booked()) >= 5 and run.program.get_meta("calendar_cursor") is None


def test_throttled_is_retried_after_the_retry_after_and_every_series_is_booked(passes):
    throttled: list[str] = []

    def fail(operation, uid):
        if operation == "upsert" and not throttled:
            throttled.append(uid)
            return Throttled("429 rateLimitExceeded", retry_after=timedelta(seconds=90))
        return None

    run = passes(fail)
    run.run()
    [uid] = throttled
    assert uid in run.booked() and run.invited() == run.booked()
    # The one retry waited what the calendar asked, not the policy's first backoff (2 s).
    assert run.slept == [90.0]
    assert run.upserts().count(uid) == 2


def test_expired_credentials_stop_the_calendar_are_shown_and_not_retried_in_a_loop(passes, tmp_path, caplog):
    fixed = {"yes": False}

    def fail(operation, uid):
        return None if fixed["yes"] else CredentialsExpired("invalid_grant: token revoked", role="calendar")

    run = passes(fail)
    with caplog.at_level(logging.INFO):
        run.run()
        assert run.calendar.calls == [("sync", None)]  # the sync found out; the bookings did not ask again
        assert run.booked() == set() and run.slept == []
        for _ in range(11):  # ticks for most of an hour: the calendar is not asked
            run.run(timedelta(minutes=5))
        assert len(run.calendar.calls) == 1
        run.run(timedelta(minutes=6))  # an hour on: asked once again
        assert len(run.calendar.calls) == 2
        run.run(timedelta(minutes=5))
        assert len(run.calendar.calls) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "credentials expired" in r.getMessage()]
    assert len(errors) == 1  # said once, not at every tick

    result = invoke("status", str(EXAMPLE), "--state", str(tmp_path), "--json")
    [problem] = json.loads(result.output)["providers"]
    assert problem["role"] == "calendar" and problem["state"] == "credentials_expired"
    assert "invalid_grant" in problem["error"]
    text = invoke("status", str(EXAMPLE), "--state", str(tmp_path)).output
    assert "calendar provider: credentials expired" in " ".join(text.split())
    with run.program.store.session() as db:
        assert db.scalars(select(JobRun).where(JobRun.ok.is_(False))).all() == []  # no job failed

    # A person logs in again: the credential store changes, and the calendar is asked at once.
    fixed["yes"] = True
    run.program.credentials.put("google:coach@example.org", {"refresh_token": "new"})
    with caplog.at_level(logging.WARNING):
        run.run(timedelta(minutes=1))
    assert len(run.booked()) >= 5 and "calendar provider works again" in caplog.text
    assert json.loads(invoke("status", str(EXAMPLE), "--state", str(tmp_path), "--json").output)["providers"] == []


def test_the_program_hands_its_credential_store_to_providers_that_log_in(tmp_path, cfg, monkeypatch):
    from coachd.providers import registry
    from coachd.providers.credentials import CredentialStore

    built = {}
    real = registry.provider

    def provider(role, name, state_dir, **options):
        built[role] = options
        return real(role, name, state_dir, **{k: v for k, v in options.items() if k != "credential_store"})

    monkeypatch.setattr(registry, "provider", provider)
    monkeypatch.setattr(registry, "accepted_options",
                        lambda role, name: frozenset({"folder", "credential_store"}) if role == "calendar" else frozenset())
    program = open_program(cfg, tmp_path, VirtualClock(program_start(cfg)))
    try:
        store = built["calendar"]["credential_store"]
        assert isinstance(store, CredentialStore) and store.path == tmp_path / "credentials.json"
        assert "credential_store" not in built["send"]
        assert program.credentials is not None and program.credentials.path == store.path
    finally:
        program.close()


class FailingSender:
    """A mail sender in front of a real one that raises the errors it is given, one per send."""

    def __init__(self, inner, errors):
        self.inner = inner
        self.errors = list(errors)
        self.sends = 0

    def send_raw(self, raw, key, envelope=None):
        self.sends += 1
        if self.errors:
            raise self.errors.pop(0)
        self.inner.send_raw(raw, key, envelope)

    def close(self):
        self.inner.close()


def outbox_rows(run):
    with run.program.store.session() as db:
        return list(db.scalars(select(Outbox).order_by(Outbox.id)))


def test_a_throttled_send_is_stored_to_wait_the_retry_after(passes):
    run = passes(lambda operation, uid: None)
    run.program.sender = FailingSender(run.program.sender, [Throttled("421 4.7.0 slow down",
                                                                      retry_after=timedelta(minutes=30))])
    run.run()
    [waiting] = [row for row in outbox_rows(run) if row.status == "queued"]
    assert waiting.attempts == 1 and "slow down" in waiting.last_error
    assert waiting.next_attempt_at == run.now + timedelta(minutes=30)
    run.run(timedelta(minutes=29))
    assert [row.status for row in outbox_rows(run)].count("queued") == 1
    run.run(timedelta(minutes=1))
    assert {row.status for row in outbox_rows(run)} == {"sent"}


def test_expired_sender_credentials_hold_the_mail_without_spending_its_attempts(passes, tmp_path):
    run = passes(lambda operation, uid: None)
    sender = FailingSender(run.program.sender, [CredentialsExpired("gmail: invalid_grant")] * 3)
    run.program.sender = sender
    run.run()
    rows = outbox_rows(run)
    assert sender.sends == 1 and rows and {row.status for row in rows} == {"queued"}
    assert all(row.attempts == 0 and row.next_attempt_at == run.now + timedelta(hours=1) for row in rows)
    run.run(timedelta(minutes=30))
    assert sender.sends == 1
    [problem] = json.loads(invoke("status", str(EXAMPLE), "--state", str(tmp_path), "--json").output)["providers"]
    assert problem["role"] == "send" and problem["state"] == "credentials_expired"
    sender.errors.clear()
    run.run(timedelta(minutes=30))
    assert {row.status for row in outbox_rows(run)} == {"sent"}


def test_a_calendar_entry_that_cannot_be_taken_in_keeps_the_cursor_and_spares_the_others(passes, monkeypatch,
                                                                                        caplog):
    from coachd.observe.calendar_sync import CalendarSync

    run = passes(lambda operation, uid: None)
    run.run()  # booked; the sync has a cursor
    cursor = run.program.get_meta("calendar_cursor")
    uids = sorted(run.booked())
    for uid in uids[:2]:  # two series cancelled by hand in the organizer's calendar
        run.calendar.inner.cancel_series(uid)
    real = CalendarSync._follow_entry

    def follow(self, uid, *args):
        if uid == uids[0]:
            raise ValueError("an entry nobody can read")
        return real(self, uid, *args)

    monkeypatch.setattr(CalendarSync, "_follow_entry", follow)
    with caplog.at_level(logging.ERROR):
        run.run(timedelta(minutes=15))
    assert f"calendar entry {uids[0]} not taken in" in caplog.text
    with run.program.store.session() as db:
        cancelled = dict(db.execute(select(Series.uid, Series.cancelled)).all())
    assert cancelled[uids[1]] and not cancelled[uids[0]]  # the other hand edit was adopted
    assert run.program.get_meta("calendar_cursor") == cursor  # read again next pass
