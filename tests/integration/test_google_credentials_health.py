"""A Google login that dies while the daemon runs (issue 17 point 7): the calendar's work stops, the
reason and the command to run are in `coachd status`, nothing asks Google in a loop, and once an admin
runs `coachd auth google` the next pass works again by itself: no restart."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.execute.executor import Executor
from coachd.providers.base import CredentialsExpired
from coachd.providers.google.auth import credential_name, google_credentials
from coachd.providers.retry import RetryPolicy
from coachd.runtime.clock import VirtualClock
from coachd.runtime.jobs import program_jobs
from coachd.runtime.runner import JobRunner
from coachd.runtime.wiring import open_program
from tests.support.cli import invoke
from tests.support.failing_calendar import FailingCalendar
from tests.support.fake_google import FakeGoogle
from tests.support.fake_google.oauth import FakeOAuth
from tests.support.google_auth import CALENDAR, ORGANIZER, GoogleSetup, add_probes, probe_calendar
from tests.support.ticks import EXAMPLE, program_start


@pytest.fixture
def google(tmp_path: Path) -> Iterator[GoogleSetup]:
    with FakeGoogle() as fake:
        add_probes(fake)
        oauth = FakeOAuth(fake)
        oauth.browser_user = ORGANIZER
        yield GoogleSetup(fake, oauth, tmp_path)


def status(state: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(invoke("status", str(EXAMPLE), "--state", str(state), "--json").output)  # type: ignore[no-any-return]


def test_a_revoked_google_login_is_shown_in_status_and_a_new_login_resumes_the_calendar(
        google: GoogleSetup, caplog: pytest.LogCaptureFixture) -> None:
    client = google.oauth.register_client()
    google.oauth.client_secrets_file(google.folder / "client.json", client)
    google_config = google.config(google.installed_auth())
    state = google.folder / "state"
    cfg = load_config(EXAMPLE)
    now = program_start(cfg) + timedelta(days=1)
    program = open_program(cfg, state, VirtualClock(now))
    assert program.credentials is not None
    first_login = google.oauth.mint_refresh_token(client, ORGANIZER, [CALENDAR])
    program.credentials.put(credential_name(ORGANIZER), {"refresh_token": first_login})

    # The calendar asks Google before each operation, with credentials built once, as a provider's
    # factory builds them; the local calendar behind it keeps the bookings.
    auth = load_config(google_config).organizer.calendar.auth
    credentials = google_credentials(auth, [CALENDAR], program.credentials, subject=ORGANIZER, role="calendar")

    def through_google(_operation: str, _uid: str | None) -> Exception | None:
        try:
            probe_calendar(google.fake, credentials)
        except CredentialsExpired as error:
            return error
        return None

    calendar = FailingCalendar(program.calendar, through_google)
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

        google.oauth.revoke(first_login)  # the user revoked coachd, or the 7-day testing token died
        with caplog.at_level(logging.INFO):
            run_pass(timedelta(minutes=5))
            calls, grants = len(calendar.calls), len(google.oauth.answers)
            for _ in range(6):
                run_pass(timedelta(minutes=5))
        assert len(calendar.calls) == calls and len(google.oauth.answers) == grants  # no loop against Google
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "credentials expired" in r.getMessage()]
        assert len(errors) == 1

        [problem] = status(state)["providers"]
        assert problem["role"] == "calendar" and problem["state"] == "credentials_expired"
        assert status(state)["healthy"] is False
        assert status(state)["health_problems"][0].startswith("calendar provider: credentials expired since")
        assert f"log in again with `coachd auth google {google_config}`" in problem["error"]
        text = " ".join(invoke("status", str(EXAMPLE), "--state", str(state)).output.split())
        assert "calendar provider: credentials expired" in text
        assert first_login not in json.dumps(status(state)) and first_login not in caplog.text

        # The admin logs in again, in another process, as they would on the server.
        login = subprocess.Popen([sys.executable, "-m", "coachd.cli.commands", "auth", "google", str(google_config),
                                  "--state", str(state)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        assert login.stdout is not None
        url = next(line.strip() for line in login.stdout if line.startswith("http"))
        urllib.request.urlopen(url, timeout=60).close()
        _out, err = login.communicate(timeout=60)
        assert login.returncode == 0, err

        with caplog.at_level(logging.WARNING):
            run_pass(timedelta(minutes=1))  # well before the hourly recheck: the new login is noticed
        assert len(calendar.calls) > calls and "calendar provider works again" in caplog.text
        assert status(state)["providers"] == [] and status(state)["healthy"] is True
    finally:
        program.close()
