"""A Microsoft 365 login that dies while the daemon runs (issue 18 point 7), loud exactly as Google's: the
calendar's work stops, the reason and the command to run are in `coachd status` (healthy false), the log
says it once, nothing asks Entra or Graph in a loop, and once an admin runs `coachd auth microsoft` the
next pass works again by itself: no restart."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from coachd.cli.microsoft_login import microsoft_login
from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.providers.base import CredentialsExpired
from coachd.providers.microsoft.auth import graph_credentials
from coachd.providers.retry import RetryPolicy
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from tests.support.cli import invoke
from tests.support.failing_calendar import FailingCalendar
from tests.support.microsoft_auth import (
    ORGANIZER,
    MicrosoftSetup,
    PersonAtTheBrowser,
    microsoft,
    probe_calendar,
    run_login,
)
from tests.support.ticks import EXAMPLE, program_start


@pytest.fixture
def ms(tmp_path: Path) -> Iterator[MicrosoftSetup]:
    with microsoft(tmp_path) as setup:
        yield setup


def status(state: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(invoke("status", str(EXAMPLE), "--state", str(state), "--json").output)  # type: ignore[no-any-return]


@pytest.mark.parametrize("death", ["consent revoked", "refresh token expired"])
def test_a_dead_microsoft_login_is_shown_in_status_and_a_new_login_resumes_the_calendar(
        ms: MicrosoftSetup, caplog: pytest.LogCaptureFixture, death: str) -> None:
    app = ms.app(public_client=True, permissions=())
    microsoft_config = ms.config(ms.section(app))
    state = ms.folder / "state"
    cfg = load_config(EXAMPLE)
    now = program_start(cfg) + timedelta(days=1)
    program = open_program(cfg, state, VirtualClock(now))
    assert program.credentials is not None
    person = PersonAtTheBrowser(ms.fake)
    microsoft_login(load_config(microsoft_config), state, say=person.say, sleep=person.sleep)

    # The calendar asks Graph before each operation, with credentials built once, as a provider's factory
    # builds them; the local calendar behind it keeps the bookings.
    section = load_config(microsoft_config).organizer.calendar
    credentials = graph_credentials(section, program.credentials, organizer_email=ORGANIZER, role="calendar")

    def through_graph(_operation: str, _uid: str | None) -> Exception | None:
        try:
            probe_calendar(ms.fake, credentials)
        except CredentialsExpired as error:
            return error
        return None

    calendar = FailingCalendar(program.calendar, through_graph)
    program.calendar = calendar
    program.retry_policy = RetryPolicy(sleep=lambda _seconds: None)
    runner = JobRunner(program, program_jobs(program, Executor(program, lambda _record: None)))

    def run_pass(after: timedelta) -> None:
        nonlocal now
        now += after
        for job in runner.jobs:
            assert runner.run(job, now) is not None, f"job {job.name} failed"

    try:
        run_pass(timedelta(0))
        assert status(state)["providers"] == [] and len(calendar.calls) > 1
        assert status(state)["healthy"] is True

        first_login = ms.identity.live_refresh_tokens(ORGANIZER)
        if death == "consent revoked":
            ms.identity.revoke_consent(app, ORGANIZER)  # the user or an admin removed coachd's permissions
        else:
            ms.identity.expire_refresh_tokens(ORGANIZER)  # 90 days unused, or a sign-in frequency policy
            ms.fake.revoke_access_tokens()  # and the access token in hand is refused too
        with caplog.at_level(logging.INFO):
            run_pass(timedelta(minutes=5))
            calls, grants, graph = len(calendar.calls), len(ms.identity.answers), len(ms.fake.requests("/v1.0/"))
            for _ in range(6):
                run_pass(timedelta(minutes=5))
        # No loop against Entra or Graph.
        assert (len(calendar.calls), len(ms.identity.answers), len(ms.fake.requests("/v1.0/"))) == (calls, grants, graph)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "credentials expired" in r.getMessage()]
        assert len(errors) == 1

        [problem] = status(state)["providers"]
        assert problem["role"] == "calendar" and problem["state"] == "credentials_expired"
        assert status(state)["healthy"] is False
        assert status(state)["health_problems"][0].startswith("calendar provider: credentials expired since")
        assert f"coachd auth microsoft {microsoft_config}" in problem["error"]
        assert ("AADSTS65001" if death == "consent revoked" else "AADSTS700082") in problem["error"]
        text = " ".join(invoke("status", str(EXAMPLE), "--state", str(state)).output.split())
        assert "calendar provider: credentials expired" in text
        shown = json.dumps(status(state)) + caplog.text + text
        assert first_login and not [token for token in first_login if token in shown]

        # The admin logs in again, in another process, as they would on the server.
        code, _out, err = run_login(ms, microsoft_config, state)
        assert code == 0, err

        with caplog.at_level(logging.WARNING):
            run_pass(timedelta(minutes=1))  # well before the hourly recheck: the new login is noticed
        assert len(calendar.calls) > calls and "calendar provider works again" in caplog.text
        assert status(state)["providers"] == [] and status(state)["healthy"] is True
    finally:
        program.close()
