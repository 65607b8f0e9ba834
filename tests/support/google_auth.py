"""A Google set-up for auth tests: the fake with its OAuth endpoints, two probe routes that say who
called with which scopes, and the example program's config with Google sections pointed at the fake."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth.credentials

from coachd.providers.google.client import build_service, execute
from coachd.providers.retry import RetryPolicy
from tests.support.cli import ROOT
from tests.support.fake_google import FakeGoogle, Request, Response
from tests.support.fake_google.oauth import FakeOAuth

ORGANIZER = "coaching@northwind.example"
CALENDAR = "https://www.googleapis.com/auth/calendar.events"
FREEBUSY = "https://www.googleapis.com/auth/calendar.freebusy"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"
NO_SLEEP = RetryPolicy(attempts=2, sleep=lambda _seconds: None, jitter=0)


def _who(request: Request) -> Response:
    assert request.principal is not None
    return Response(body={"id": request.match.group(1) if request.match else "", "subject": request.principal.subject,
                          "scopes": sorted(request.principal.scopes)})


def add_probes(fake: FakeGoogle) -> None:
    """calendars.get (calendar.events) and users.getProfile (gmail.modify), answering who called."""
    fake.route("GET", r"/calendar/v3/calendars/([^/]+)", _who, scopes=[CALENDAR])
    fake.route("GET", r"/gmail/v1/users/([^/]+)/profile", _who, scopes=[GMAIL_MODIFY])


def probe_calendar(fake: FakeGoogle, credentials: google.auth.credentials.Credentials,
                   policy: RetryPolicy = NO_SLEEP) -> dict[str, Any]:
    service = build_service("calendar", "v3", fake.base_url, credentials, timeout=5)
    return execute(service.calendars().get(calendarId="primary"), "calendars.get on primary", policy)  # type: ignore[no-any-return]


@dataclass
class GoogleSetup:
    fake: FakeGoogle
    oauth: FakeOAuth
    folder: Path

    def config(self, auth: str, *, roles: tuple[str, ...] = ("calendar",), name: str = "program.yaml") -> Path:
        """The example program with `roles` on Google, each with the `auth:` block `auth` (YAML flow)."""
        text = (ROOT / "config" / "example.yaml").read_text()
        blocks = {"calendar": ("calendar: {provider: local}", "google"), "send": ("send: {provider: file}", "gmail"),
                  "receive": ("receive: {provider: maildir}", "gmail")}
        for role in roles:
            if role == "busy":
                text = text.replace("  receive: ", f"  busy: {{provider: google, api_root: '{self.fake.base_url}', "
                                                    f"auth: {auth}}}\n  receive: ", 1)
                continue
            default, provider = blocks[role]
            assert default in text
            text = text.replace(default, f"{role}: {{provider: {provider}, api_root: '{self.fake.base_url}', "
                                         f"auth: {auth}}}", 1)
        text = text.replace("busy: calendars/", f"busy: {ROOT / 'config' / 'calendars'}/")
        path = self.folder / name
        path.write_text(text)
        return path

    def installed_auth(self, client_file: str = "client.json") -> str:
        return f"{{client_secrets: {client_file}, token_uri: '{self.fake.token_uri}'}}"

    def service_auth(self, key_file: str = "key.json", subject: str | None = None) -> str:
        who = f", subject: {subject}" if subject else ""
        return f"{{service_account_key: {key_file}, token_uri: '{self.fake.token_uri}'{who}}}"
