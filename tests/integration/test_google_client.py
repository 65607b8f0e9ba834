"""Google's answers as coachd's errors: each kind the retry policy and provider health act on."""

from __future__ import annotations

from datetime import timedelta

import google.oauth2.credentials
import pytest

from coachd.providers.base import CredentialsExpired, QuotaExhausted, Throttled, Transient
from coachd.providers.google import client
from coachd.providers.google.client import GoogleApiError, GoogleSyncTokenExpired, build_service, execute
from coachd.providers.retry import RetryPolicy
from tests.support.fake_google import ApiError, FakeGoogle, Response

SCOPE = "https://www.googleapis.com/auth/calendar.events"


@pytest.fixture
def fake():  # type: ignore[no-untyped-def]
    with FakeGoogle() as running:
        running.route("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)",
                      lambda request: Response(body={"id": request.group("calendar")}), scopes=[SCOPE])
        yield running


def get(fake: FakeGoogle, sleeps: list[float], attempts: int = 3):  # type: ignore[no-untyped-def]
    token = fake.issue_access_token("organizer@northwind.example", [SCOPE])
    service = build_service("calendar", "v3", fake.base_url, google.oauth2.credentials.Credentials(token=token),
                            timeout=2)
    policy = RetryPolicy(attempts=attempts, sleep=sleeps.append, jitter=0)
    return execute(service.calendars().get(calendarId="primary"), "calendars.get on primary", policy)


def test_throttling_is_retried_no_sooner_than_retry_after_then_answered(fake: FakeGoogle) -> None:
    fake.faults.retry_after_seconds = 7
    fake.faults.fail_next("429")
    fake.faults.fail_next("503")
    sleeps: list[float] = []
    assert get(fake, sleeps)["id"] == "primary"
    assert sleeps[0] >= 7 and len(sleeps) == 2


def test_a_rate_limit_that_outlasts_the_attempts_is_throttled(fake: FakeGoogle) -> None:
    fake.faults.fail_next("403-user-rate", times=5)
    with pytest.raises(Throttled):
        get(fake, [], attempts=2)
    assert len(fake.requests("/calendar/")) == 2


def test_the_daily_quota_is_not_retried_and_waits_for_the_reset(fake: FakeGoogle) -> None:
    fake.faults.fail_next("403-quota", times=5)
    sleeps: list[float] = []
    with pytest.raises(Throttled) as quota:
        get(fake, sleeps)
    assert sleeps == [] and len(fake.requests("/calendar/")) == 1
    assert quota.value.retry_after is not None and timedelta(0) < quota.value.retry_after <= timedelta(hours=25)


def test_server_errors_and_dropped_connections_are_transient(fake: FakeGoogle) -> None:
    fake.faults.fail_next("500", times=5)
    with pytest.raises(Transient) as failed:
        get(fake, [], attempts=2)
    assert "500" in str(failed.value) and "Backend Error" in str(failed.value)


def test_a_token_refused_after_refreshing_means_the_credentials_expired(fake: FakeGoogle) -> None:
    service = build_service("calendar", "v3", fake.base_url,
                            google.oauth2.credentials.Credentials(token="ya29.revoked"), timeout=2)
    with pytest.raises(CredentialsExpired):
        execute(service.calendars().get(calendarId="primary"), "calendars.get", RetryPolicy(sleep=lambda _: None))


def test_gone_and_refused_requests_keep_googles_status_and_reason(fake: FakeGoogle) -> None:
    def answer(_request: object) -> Response:
        raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")

    fake.route("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events", answer, scopes=[SCOPE])
    fake.route("DELETE", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events/(?P<event>[^/]+)",
               lambda _r: Response(404, {"error": {"code": 404, "message": "Not Found",
                                                   "errors": [{"reason": "notFound", "domain": "global"}]}}),
               scopes=[SCOPE])
    token = fake.issue_access_token("organizer@northwind.example", [SCOPE])
    service = build_service("calendar", "v3", fake.base_url, google.oauth2.credentials.Credentials(token=token))
    with pytest.raises(GoogleSyncTokenExpired):
        execute(service.events().list(calendarId="primary", syncToken="old"), "events.list")
    with pytest.raises(GoogleApiError) as missing:
        execute(service.events().delete(calendarId="primary", eventId="abc"), "events.delete")
    assert (missing.value.status, missing.value.reason) == (404, "notFound")


def test_a_quota_that_resets_in_a_minute_is_still_not_retried_within_the_pass(fake: FakeGoogle, monkeypatch) -> None:
    # Just before midnight Pacific the reset is seconds away: shorter than the policy's total, and yet
    # holding a job for it (or asking again) would be a loop against a spent quota.
    monkeypatch.setattr(client, "_until_quota_reset", lambda: timedelta(seconds=20))
    fake.faults.fail_next("403-quota", times=5)
    sleeps: list[float] = []
    with pytest.raises(QuotaExhausted) as quota:
        get(fake, sleeps)
    assert sleeps == [] and len(fake.requests("/calendar/")) == 1
    assert quota.value.retry_after == timedelta(seconds=20)
