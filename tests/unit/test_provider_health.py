"""A provider role's health: expired credentials rechecked hourly or when the store changes, throttling waited out."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from coachd.providers.base import CredentialsExpired, Throttled
from coachd.providers.credentials import CredentialStore
from coachd.providers.retry import RetryPolicy
from coachd.runtime.provider_health import RoleHealth

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


class Meta(dict):
    def get_meta(self, name):
        return self.get(name)

    def set_meta(self, name, value):
        self[name] = value


def raising(error):
    def operation():
        raise error
    return operation


@pytest.fixture
def health(tmp_path):
    return RoleHealth("calendar", Meta(), CredentialStore(tmp_path), RetryPolicy(sleep=lambda seconds: None))


def test_expired_credentials_wait_an_hour_or_a_new_login(health, caplog):
    with caplog.at_level(logging.INFO), pytest.raises(CredentialsExpired):
        health.call(T0, raising(CredentialsExpired("invalid_grant")))
    assert not health.available(T0 + timedelta(minutes=59))
    assert health.available(T0 + timedelta(hours=1))
    with caplog.at_level(logging.INFO), pytest.raises(CredentialsExpired):
        health.call(T0 + timedelta(hours=1), raising(CredentialsExpired("invalid_grant")))
    assert health.next_check(T0 + timedelta(hours=1)) == T0 + timedelta(hours=2)
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.INFO]  # loud once
    assert health.state["since"] == T0.isoformat()
    health.credentials.put("google:coach@example.org", {"refresh_token": "new"})
    assert health.available(T0 + timedelta(hours=1, minutes=1))
    assert health.call(T0 + timedelta(hours=1, minutes=1), lambda: "ok") == "ok"
    assert health.state is None and health.meta["provider_health:calendar"] == {}


def test_a_throttle_longer_than_the_pass_is_waited_out_across_ticks(health):
    with pytest.raises(Throttled):
        health.call(T0, raising(Throttled("429", retry_after=timedelta(minutes=20))))
    assert not health.available(T0 + timedelta(minutes=19))
    assert health.available(T0 + timedelta(minutes=20))


def test_the_state_outlives_the_process(health):
    with pytest.raises(CredentialsExpired):
        health.call(T0, raising(CredentialsExpired("revoked")))
    again = RoleHealth("calendar", health.meta, health.credentials, health.policy)
    assert not again.available(T0 + timedelta(minutes=5))
