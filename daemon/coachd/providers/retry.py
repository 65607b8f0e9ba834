"""The one retry policy for provider calls: backoff with jitter, honouring a service's retry-after."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import tenacity
from tenacity.wait import wait_base

from coachd.providers.base import QuotaExhausted, Throttled, Transient

log = logging.getLogger("coachd.retry")

T = TypeVar("T")


class wait_retry_after(wait_base):
    """The larger of `backoff` and the retry-after a Throttled error carries: a service that says
    "not before a minute" is never asked sooner, and one that says "now" is still backed off from."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        wait = self.backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, Throttled) and error.retry_after is not None:
            wait = max(wait, error.retry_after.total_seconds())
        return wait


def _retryable(error: BaseException) -> bool:
    # Throttled is a Transient. Permanent, CredentialsExpired, a spent quota and anything unexpected go up at once.
    return isinstance(error, Transient) and not isinstance(error, QuotaExhausted)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries Transient and Throttled errors: `first`, twice that, ... up to `longest` between
    attempts, plus up to `jitter` of that first wait at random (so that replicas and processes
    hit by one outage do not come back in step), at most `attempts` calls and never a wait that
    would end past `total` since the first call. Permanent and CredentialsExpired are never retried.

    `sleep` is how the policy waits (tenacity's `sleep=`): tests give it a recorder and never sleep.
    """

    attempts: int = 4
    total: timedelta = timedelta(minutes=2)
    first: timedelta = timedelta(seconds=2)
    longest: timedelta = timedelta(seconds=30)
    jitter: float = 0.25
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def wait(self) -> wait_base:
        """The wait between attempts, as a tenacity wait (the outbox computes its stored delays with it)."""
        first = self.first.total_seconds()
        backoff = (tenacity.wait_exponential(multiplier=first, max=self.longest.total_seconds())
                   + tenacity.wait_random(0, first * self.jitter))
        return wait_retry_after(backoff)

    def retrying(self) -> tenacity.Retrying:
        """A tenacity controller of this policy: raises the last error itself when it gives up."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(_retryable),
            wait=self.wait(),
            # stop_before_delay: a retry-after longer than what is left of `total` ends the tries
            # now, and the caller skips the work until the next tick, instead of holding the job.
            stop=tenacity.stop_after_attempt(self.attempts) | tenacity.stop_before_delay(self.total.total_seconds()),
            sleep=self.sleep,
            reraise=True,
            before_sleep=_log_retry,
        )

    def call(self, operation: Callable[..., T], *args: object, **kwargs: object) -> T:
        """`operation(*args, **kwargs)`, retried under this policy."""
        return self.retrying()(operation, *args, **kwargs)

    def delay(self, attempts: int, error: BaseException | None = None) -> timedelta:
        """How long to wait after the `attempts`-th failed attempt, `error` being its failure: for
        retries that span ticks and are stored (the outbox's next attempt)."""
        state = tenacity.RetryCallState(retry_object=self.retrying(), fn=None, args=(), kwargs={})
        state.attempt_number = max(1, attempts)
        if error is not None:
            state.set_exception((type(error), error, error.__traceback__))
        return timedelta(seconds=self.wait()(state))


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.info("%s failed (attempt %d: %s); trying again in %.1f s", getattr(state.fn, "__qualname__", "call"),
             state.attempt_number, error, wait)


# Provider calls inside a job: a few quick tries, then the work waits for the next tick.
DEFAULT_POLICY = RetryPolicy()
