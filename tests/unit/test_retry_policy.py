"""The one retry policy: what it retries, how long it waits, when it gives up (no real sleeping)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coachd.providers.base import (
    CredentialsExpired,
    Permanent,
    PermanentSendError,
    ProviderError,
    SeriesNotFound,
    Throttled,
    Transient,
    TransientSendError,
)
from coachd.providers.retry import RetryPolicy


class Flaky:
    """Fails with the given errors in turn, then answers "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture
def slept() -> list[float]:
    return []


def policy(slept: list[float], **options) -> RetryPolicy:
    return RetryPolicy(sleep=slept.append, **options)


def test_the_send_errors_are_the_kinds_every_role_shares():
    assert issubclass(TransientSendError, Transient) and issubclass(PermanentSendError, Permanent)
    assert issubclass(Throttled, Transient) and issubclass(SeriesNotFound, Permanent)
    assert all(issubclass(kind, ProviderError) for kind in (Transient, Permanent, CredentialsExpired))
    assert not issubclass(CredentialsExpired, (Transient, Permanent))


def test_a_transient_failure_is_retried_with_growing_jittered_waits(slept):
    flaky = Flaky(Transient("reset"), Transient("reset"), Transient("reset"))
    assert policy(slept, attempts=4).call(flaky) == "done"
    assert flaky.calls == 4
    first = RetryPolicy().first.total_seconds()
    jitter = first * RetryPolicy().jitter
    for n, wait in enumerate(slept):
        assert first * 2 ** n <= wait <= first * 2 ** n + jitter


def test_throttled_waits_the_retry_after_the_service_gave(slept):
    flaky = Flaky(Throttled("429", retry_after=timedelta(seconds=45)), Throttled("429", retry_after=None))
    assert policy(slept, total=timedelta(minutes=5)).call(flaky) == "done"
    # Not before 45 s, although the backoff alone would have waited 2 s; without a retry-after, the backoff.
    assert slept[0] == 45.0
    assert slept[1] < 10


def test_a_retry_after_past_the_time_allowed_gives_up_at_once(slept):
    flaky = Flaky(Throttled("429", retry_after=timedelta(hours=1)))
    with pytest.raises(Throttled):
        policy(slept, total=timedelta(minutes=2)).call(flaky)
    assert flaky.calls == 1 and slept == []


@pytest.mark.parametrize("error", [Permanent("400 bad request"), PermanentSendError("550"),
                                   SeriesNotFound("uid-1"), CredentialsExpired("invalid_grant"),
                                   ValueError("a bug")])
def test_permanent_credentials_and_unexpected_errors_are_never_retried(slept, error):
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        policy(slept).call(flaky)
    assert flaky.calls == 1 and slept == []


def test_attempts_are_bounded_and_the_last_error_comes_out(slept):
    flaky = Flaky(*(Transient(f"down {n}") for n in range(10)))
    with pytest.raises(Transient, match="down 2"):
        policy(slept, attempts=3).call(flaky)
    assert flaky.calls == 3 and len(slept) == 2


def test_the_stored_delay_for_retries_across_ticks_follows_the_same_waits():
    outbox = RetryPolicy(first=timedelta(minutes=1), longest=timedelta(hours=6), jitter=0.25)
    assert timedelta(minutes=1) <= outbox.delay(1) <= timedelta(minutes=1, seconds=15)
    assert timedelta(minutes=4) <= outbox.delay(3) <= timedelta(minutes=4, seconds=15)
    assert timedelta(hours=6) <= outbox.delay(30) <= timedelta(hours=6, seconds=15)
    throttled = Throttled("421 slow down", retry_after=timedelta(minutes=30))
    assert outbox.delay(1, throttled) == timedelta(minutes=30)
