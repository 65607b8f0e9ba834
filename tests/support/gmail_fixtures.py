"""What the Gmail sender and inbox tests share: a fake Gmail on a clock the test turns, and credentials
for the organizer (the real client libraries talk HTTP to it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import google.oauth2.credentials
from googleapiclient.discovery import Resource

from coachd.providers.google.gmail_service import gmail_service
from coachd.providers.retry import RetryPolicy
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.gmail import FakeGmail

ORGANIZER = "coaching@northwind.example"


class TestClock:
    """The time both the fake and the provider read; a test moves it on by hand."""

    __test__ = False

    def __init__(self, start: datetime = datetime(2027, 1, 11, 15, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class Sleeps(list[float]):
    """A retry policy's sleep that only records how long it would have waited."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def quick_policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps)


@contextmanager
def fake_gmail(clock: TestClock) -> Iterator[tuple[FakeGoogle, FakeGmail]]:
    with FakeGoogle(now=clock) as fake:
        gmail = FakeGmail(fake)
        gmail.mailbox(ORGANIZER)
        yield fake, gmail


def service_for(fake: FakeGoogle, user: str, scopes: Sequence[str], timeout: float = 5.0) -> Resource:
    """A Gmail client for `user` with a token the fake issued for `scopes`."""
    token = fake.issue_access_token(user, scopes, lifetime=timedelta(days=365))
    return gmail_service(fake.base_url, google.oauth2.credentials.Credentials(token=token), timeout=timeout)


def organizer_service(fake: FakeGoogle, scopes: Sequence[str], timeout: float = 5.0) -> Resource:
    return service_for(fake, ORGANIZER, scopes, timeout)


@contextmanager
def failing(fake: FakeGoogle, kind: str, path_contains: str, method: str | None = None) -> Iterator[None]:
    """Every matching request fails with `kind` inside the block."""
    fake.faults.fail_next(kind, 10_000, path_contains=path_contains, method=method)
    fault = fake.faults.scripted[-1]
    try:
        yield
    finally:
        fault.times = 0
