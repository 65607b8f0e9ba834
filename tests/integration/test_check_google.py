"""`coachd check` on Google sections: the auth files offline, and with --online one line per check
(credentials, calendar writable, free/busy per person, Gmail send and read), exit 2 on any failure.

The Calendar and Gmail routes here are the few a check reads, answered as Google does; the full
fakes of those services are other modules'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coachd.config import load_config
from coachd.providers.credentials import CredentialStore
from coachd.providers.google.auth import credential_name
from coachd.providers.google.online_check import online_checks
from tests.support.cli import invoke
from tests.support.fake_google import FakeGoogle, Request, Response
from tests.support.fake_google.oauth import FakeOAuth
from tests.support.google_auth import CALENDAR, FREEBUSY, GMAIL_MODIFY, ORGANIZER, GoogleSetup

ALL_ROLES = ("calendar", "busy", "send", "receive")


class Workspace:
    """Who exists in the fake Workspace and what the organizer may do with the calendar."""

    def __init__(self, fake: FakeGoogle, people: set[str]) -> None:
        self.people = people
        self.access_role = "owner"
        fake.route("GET", r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events", self._events, scopes=[CALENDAR])
        fake.route("POST", r"/calendar/v3/freeBusy", self._freebusy, scopes=[FREEBUSY])
        fake.route("GET", r"/gmail/v1/users/(?P<user>[^/]+)/profile", self._profile, scopes=[GMAIL_MODIFY])

    def _events(self, _request: Request) -> Response:
        return Response(body={"kind": "calendar#events", "accessRole": self.access_role, "items": []})

    def _freebusy(self, request: Request) -> Response:
        items = request.json()["items"]
        assert len(items) <= 50, "Google refuses more than 50 calendars per query"
        calendars = {item["id"]: {"busy": []} if item["id"] in self.people else
                     {"busy": [], "errors": [{"domain": "global", "reason": "notFound"}]} for item in items}
        return Response(body={"kind": "calendar#freeBusy", "calendars": calendars})

    def _profile(self, request: Request) -> Response:
        assert request.principal is not None
        return Response(body={"emailAddress": request.principal.subject, "messagesTotal": 0})


@pytest.fixture
def google(tmp_path: Path) -> Iterator[GoogleSetup]:
    with FakeGoogle() as fake:
        yield GoogleSetup(fake, FakeOAuth(fake), tmp_path)


def delegated(google: GoogleSetup, *, mode: int = 0o600) -> Path:
    google.oauth.users.add(ORGANIZER)
    account = google.oauth.add_service_account(delegated=[CALENDAR, FREEBUSY, "https://www.googleapis.com/auth/gmail.send",
                                                          GMAIL_MODIFY])
    google.oauth.key_file(google.folder / "key.json", account, mode)
    return google.config(google.service_auth(), roles=ALL_ROLES)


def everyone(config: Path) -> set[str]:
    return {str(person.email) for person in load_config(config).people}


def test_every_check_passes_for_a_delegated_service_account(google: GoogleSetup) -> None:
    config = delegated(google)
    Workspace(google.fake, everyone(config))
    lines = list(online_checks(load_config(config), google.folder / "state"))
    assert all(line.ok for line in lines), [str(line) for line in lines]
    said = [str(line) for line in lines]
    assert f"ok   organizer.calendar credentials: a token for {ORGANIZER} with {CALENDAR}" in said
    assert "ok   calendar primary writable: access role owner" in said
    assert sum(line.startswith("ok   free/busy of ") for line in said) == len(everyone(config))
    assert any(line.startswith("ok   Gmail send permitted") for line in said)
    assert f"ok   Gmail read permitted: the mailbox of {ORGANIZER}" in said
    assert not google.fake.requests(method="POST", path_contains="/gmail/")  # nothing sent to find out


def test_each_failure_is_one_line_and_check_exits_2(google: GoogleSetup) -> None:
    config = delegated(google)
    workspace = Workspace(google.fake, everyone(config) - {"kenji@northwind.example"})
    workspace.access_role = "reader"
    google.oauth.delegate(next(iter(google.oauth.service_accounts.values())), [CALENDAR, FREEBUSY, GMAIL_MODIFY])
    result = invoke("check", str(config), "--online", "--state", str(google.folder / "state"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith("online: FAIL")]
    assert failed == [
        "online: FAIL calendar primary writable: access role reader: coachd needs writer or owner",
        "online: FAIL free/busy of kenji@northwind.example: not readable (notFound)",
        (f"online: FAIL organizer.send credentials: token request: Google refused the credentials: the service "
         f"account {next(iter(google.oauth.service_accounts))} acting for {ORGANIZER} is not delegated in the "
         f"Admin console: add client id {next(iter(google.oauth.service_accounts.values())).client_id} with scopes "
         "https://www.googleapis.com/auth/gmail.send (Security > Access and data control > API controls > "
         "Domain-wide delegation)"),
    ]
    assert "online: ok   Gmail read permitted" in result.output


def test_a_user_login_not_done_yet_is_a_failed_check_naming_the_command(google: GoogleSetup) -> None:
    client = google.oauth.register_client()
    google.oauth.client_secrets_file(google.folder / "client.json", client)
    config = google.config(google.installed_auth())
    Workspace(google.fake, everyone(config))
    state = google.folder / "state"
    [line] = list(online_checks(load_config(config), state))
    assert not line.ok and f"run `coachd auth google {config}`" in line.detail
    state.mkdir()
    CredentialStore(state).put(credential_name(ORGANIZER),
                               {"refresh_token": google.oauth.mint_refresh_token(client, ORGANIZER, [CALENDAR])})
    assert all(line.ok for line in online_checks(load_config(config), state))


def test_offline_check_reports_a_key_readable_by_others_by_field(google: GoogleSetup) -> None:
    config = delegated(google, mode=0o640)
    result = invoke("check", str(config), "--state", str(google.folder / "state"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    said = " ".join(result.stderr.split())
    assert "organizer.calendar.auth.service_account_key: " in said and "readable by other users (mode 0640)" in said
    assert google.oauth.answers == []  # offline: Google was not asked
