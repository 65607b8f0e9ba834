"""`coachd check --online`: connect to Google as `run` would and say, one line each, what works.

Read-only on purpose: nothing is booked or sent to find out. So "calendar writable" is the access
role Google reports for the calendar (events.list answers it), and "Gmail send permitted" is a token
issued with the gmail.send scope (the API has no dry run of a send).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import google_auth_httplib2
import httplib2

from coachd.config import ProgramConfig
from coachd.providers.base import ProviderError
from coachd.providers.credentials import CredentialStore
from coachd.providers.family import ProviderRefused
from coachd.providers.google.auth import (
    AuthFileProblem,
    google_credentials,
    read_client_secrets,
    read_service_account_key,
)
from coachd.providers.google.client import build_service, classify, execute
from coachd.providers.google.family import GmailSenderSection, GoogleSection, google_sections, section_scopes
from coachd.providers.retry import RetryPolicy

TIMEOUT_SECONDS = 20.0
# Google's limit of calendars per freebusy.query.
FREEBUSY_BATCH = 50
# A check answers within seconds: one retry at most, and no long wait on a throttled answer.
CHECK_POLICY = RetryPolicy(attempts=2, total=timedelta(seconds=10), longest=timedelta(seconds=5))
WRITABLE_ROLES = frozenset({"writer", "owner"})


@dataclass(frozen=True)
class CheckLine:
    ok: bool
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}: {self.detail}"


def auth_problems(cfg: ProgramConfig) -> list[tuple[str, str]]:
    """(field, message) for each Google `auth:` file that cannot be used: what `check` reports offline."""
    problems: list[tuple[str, str]] = []
    for role, section in google_sections(cfg.organizer):
        try:
            if section.auth.service_account_key is not None:
                read_service_account_key(section.auth.service_account_key)
            elif section.auth.client_secrets is not None:
                read_client_secrets(section.auth.client_secrets)
        except AuthFileProblem as problem:
            problems.append((f"organizer.{role}.{problem.option}", problem.reason))
    return problems


def online_checks(cfg: ProgramConfig, state_dir: Path, timeout: float = TIMEOUT_SECONDS) -> Iterator[CheckLine]:
    """One line per check, for each Google provider of the organizer, as each one is done."""
    store = CredentialStore(state_dir)
    organizer = str(cfg.organizer.email)
    for role, section in google_sections(cfg.organizer):
        scopes = section_scopes(role, section)
        account = section.auth.acting_for(organizer)
        what = f"organizer.{role} credentials"
        try:
            credentials = google_credentials(section.auth, scopes, store, subject=organizer, role=role)
            credentials.refresh(google_auth_httplib2.Request(httplib2.Http(timeout=timeout)))
        except ProviderRefused as refused:
            yield CheckLine(False, what, f"{refused.field}: {refused.reason}")
            continue
        except (google.auth.exceptions.GoogleAuthError, httplib2.HttpLib2Error, OSError) as error:
            # A refusal explained (auth.py), or Google out of reach: mapped as every call's failures are.
            yield CheckLine(False, what, str(classify(error, "token request")))
            continue
        yield CheckLine(True, what, f"a token for {account} with {' '.join(scopes)}")
        try:
            yield from _ROLE_CHECKS[role](section, credentials, cfg, timeout)
        except ProviderError as error:
            yield CheckLine(False, f"organizer.{role}", str(error))


def _calendar(section: GoogleSection, credentials: google.auth.credentials.Credentials, _cfg: ProgramConfig,
              timeout: float) -> Iterator[CheckLine]:
    calendar_id = getattr(section, "calendar_id", None) or "primary"
    service = build_service("calendar", "v3", section.api_root, credentials, timeout)
    listed = execute(service.events().list(calendarId=calendar_id, maxResults=1),
                     f"events.list on {calendar_id}", CHECK_POLICY)
    role = listed.get("accessRole")
    yield CheckLine(role in WRITABLE_ROLES, f"calendar {calendar_id} writable",
                    f"access role {role}" + ("" if role in WRITABLE_ROLES else ": coachd needs writer or owner"))


def _busy(section: GoogleSection, credentials: google.auth.credentials.Credentials, cfg: ProgramConfig,
          timeout: float) -> Iterator[CheckLine]:
    service = build_service("calendar", "v3", section.api_root, credentials, timeout)
    start = datetime.now(UTC).replace(microsecond=0)
    emails = [str(person.email) for person in cfg.people]
    for first in range(0, len(emails), FREEBUSY_BATCH):
        batch = emails[first:first + FREEBUSY_BATCH]
        body = {"timeMin": start.isoformat(), "timeMax": (start + timedelta(days=1)).isoformat(),
                "items": [{"id": email} for email in batch]}
        answer: dict[str, Any] = execute(service.freebusy().query(body=body), "freebusy.query", CHECK_POLICY)
        calendars = answer.get("calendars") or {}
        for email in batch:
            found = calendars.get(email)
            errors = (found or {}).get("errors") or ([{"reason": "not answered"}] if found is None else [])
            reasons = ", ".join(str(e.get("reason")) for e in errors)
            yield CheckLine(not errors, f"free/busy of {email}", f"not readable ({reasons})" if errors else "readable")


def _send(section: GoogleSection, credentials: google.auth.credentials.Credentials, _cfg: ProgramConfig,
          timeout: float) -> Iterator[CheckLine]:
    yield CheckLine(True, "Gmail send permitted", "the token carries gmail.send (nothing was sent to find out)")
    if isinstance(section, GmailSenderSection) and section.read_sent:
        service = build_service("gmail", "v1", section.api_root, credentials, timeout)
        execute(service.users().messages().list(userId="me", labelIds=["SENT"], maxResults=1), "messages.list SENT",
                CHECK_POLICY)
        yield CheckLine(True, "Gmail Sent readable", "a send whose answer is lost is looked for there")


def _receive(section: GoogleSection, credentials: google.auth.credentials.Credentials, _cfg: ProgramConfig,
             timeout: float) -> Iterator[CheckLine]:
    service = build_service("gmail", "v1", section.api_root, credentials, timeout)
    profile = execute(service.users().getProfile(userId="me"), "users.getProfile", CHECK_POLICY)
    yield CheckLine(True, "Gmail read permitted", f"the mailbox of {profile.get('emailAddress')}")


_ROLE_CHECKS = {"calendar": _calendar, "busy": _busy, "send": _send, "receive": _receive}
