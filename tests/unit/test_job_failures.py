"""A job that keeps failing is logged once per change of state and retried with backoff (issue 14 point 7).

With the disk full the sender retried every second and logged 10,844 lines and 390 tracebacks in
64 s: the runner now logs the first failure with its traceback, then nothing while the same error
repeats but "still failing" at most hourly, and "recovered" once; each attempt is still recorded.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from coachd.runtime.jobs import Job, JobOutcome
from coachd.runtime.runner import JobRunner

START = datetime(2027, 1, 4, 9, tzinfo=UTC)


class RecordingStore:
    """Stands in for the store: counts the failures recorded, or fails like a full disk would."""

    def __init__(self, full: bool = False) -> None:
        self.rows: list[object] = []
        self.full = full

    @contextmanager
    def session(self) -> Iterator[SimpleNamespace]:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        yield SimpleNamespace(add=self.rows.append)


def runner(store: RecordingStore) -> JobRunner:
    return JobRunner(SimpleNamespace(id="northwind-2027", store=store), [])  # type: ignore[arg-type]


class Flaky:
    """A job failing with `error` until told to work."""

    def __init__(self, error: Exception) -> None:
        self.error: Exception | None = error

    def __call__(self, _now: datetime) -> JobOutcome:
        if self.error is not None:
            raise self.error
        return JobOutcome()


def runner_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "coachd.runner"]


def test_the_same_failure_every_second_logs_one_traceback_and_records_every_attempt(caplog):
    caplog.set_level(logging.INFO)
    store = RecordingStore()
    jobs = runner(store)
    flaky = Flaky(OSError(errno.ENOSPC, "No space left on device"))
    job = Job("send", timedelta(minutes=1), flaky)
    for second in range(600):  # ten minutes of a retry every second
        assert jobs.run(job, START + timedelta(seconds=second)) is None
    lines = runner_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is not None, "the first failure comes with its traceback"
    assert "job send failed" in lines[0].getMessage() and "No space left on device" in lines[0].getMessage()
    assert len(store.rows) == 600, "`coachd status` still counts every failed run"
    assert jobs.failures("send") == 600


def test_a_long_failure_is_named_again_hourly_and_its_recovery_once(caplog):
    caplog.set_level(logging.INFO)
    jobs = runner(RecordingStore())
    flaky = Flaky(OSError(errno.ENOSPC, "No space left on device"))
    job = Job("sync", timedelta(minutes=15), flaky)
    attempts = 3 * 12 + 1  # three hours of a retry every five minutes
    for n in range(attempts):
        jobs.run(job, START + timedelta(minutes=5 * n))
    flaky.error = None
    jobs.run(job, START + timedelta(hours=3, minutes=5))
    jobs.run(job, START + timedelta(hours=3, minutes=10))
    messages = [r.getMessage() for r in runner_lines(caplog)]
    reminders = [m for m in messages if "still failing" in m]
    assert len(reminders) == 3, messages
    assert f"{attempts} attempts" in reminders[-1] and START.isoformat() in reminders[-1]
    recovered = [m for m in messages if "recovered" in m]
    assert len(recovered) == 1 and f"after {attempts} failures" in recovered[0]
    assert len(messages) == 1 + 3 + 1
    assert sum(r.exc_info is not None for r in runner_lines(caplog)) == 1
    assert jobs.failures("sync") == 0 and jobs.retry_after("sync") is None


def test_a_different_error_is_a_change_of_state_and_logged_again(caplog):
    caplog.set_level(logging.INFO)
    jobs = runner(RecordingStore())
    flaky = Flaky(OSError(errno.ENOSPC, "No space left on device"))
    job = Job("plan", timedelta(minutes=5), flaky)
    for n in range(10):
        jobs.run(job, START + timedelta(seconds=n))
    flaky.error = ValueError("no context for invitation")
    for n in range(10, 20):
        jobs.run(job, START + timedelta(seconds=n))
    lines = runner_lines(caplog)
    assert [r.exc_info is not None for r in lines] == [True, True]
    assert "failing differently" in lines[1].getMessage() and "no context for invitation" in lines[1].getMessage()


def test_a_store_that_cannot_record_the_failure_is_said_once_without_a_traceback(caplog):
    caplog.set_level(logging.INFO)
    jobs = runner(RecordingStore(full=True))
    job = Job("send", timedelta(minutes=1), Flaky(OSError(errno.ENOSPC, "No space left on device")))
    for second in range(100):
        jobs.run(job, START + timedelta(seconds=second))
    lines = runner_lines(caplog)
    assert len(lines) == 2, [r.getMessage() for r in lines]
    assert "could not record the failure of job send" in lines[1].getMessage()
    assert sum(r.exc_info is not None for r in lines) == 1


def test_failures_back_off_from_one_second_to_five_minutes():
    jobs = runner(RecordingStore())
    job = Job("send", timedelta(minutes=1), Flaky(RuntimeError("smtp down")))
    delays = []
    for n in range(12):
        jobs.run(job, START + timedelta(seconds=n))
        delays.append(jobs.retry_after("send"))
    assert [d.total_seconds() for d in delays if d is not None] == \
        [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_the_daemon_retries_a_failing_job_after_its_backoff_not_every_interval_or_every_second():
    from coachd.runtime.runner import Daemon

    class FakeTime:
        now = 0.0

    runs: dict[str, list[float]] = {"send": [], "plan": []}

    def failing(_now: datetime) -> JobOutcome:
        runs["send"].append(FakeTime.now)
        raise OSError(errno.ENOSPC, "No space left on device")

    def working(_now: datetime) -> JobOutcome:
        runs["plan"].append(FakeTime.now)
        return JobOutcome()

    program = SimpleNamespace(id="northwind-2027", store=RecordingStore(), clock=SimpleNamespace(now=lambda: START),
                              stop_requested=__import__("threading").Event(), on_checkpoint=None,
                              raise_if_stopping=lambda: None)
    jobs = JobRunner(program, [Job("send", timedelta(minutes=1), failing),  # type: ignore[arg-type]
                               Job("plan", timedelta(minutes=5), working)])
    daemon = Daemon(jobs, monotonic=lambda: FakeTime.now)

    def wait(seconds: float) -> None:
        FakeTime.now += seconds
        if FakeTime.now > 600:
            daemon.stopping.set()

    daemon.wait = wait
    daemon.serve()
    gaps = [round(b - a) for a, b in zip(runs["send"], runs["send"][1:])]
    # 1, 2, 4 ... seconds, then never more than its interval: the failing job is not spun on.
    assert gaps[:7] == [1, 2, 4, 8, 16, 32, 60], gaps
    assert set(gaps[6:]) == {60}
    assert [round(t) for t in runs["plan"]] == [0, 300, 600]
