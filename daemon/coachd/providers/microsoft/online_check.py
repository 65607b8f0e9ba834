"""`coachd check --online`: connect to Microsoft 365 as `run` would and say, one line each, what works.

Read-only on purpose: nothing is booked or sent to find out. So "calendar writable" is the `canEdit`
Graph reports for the calendar, free/busy is one getSchedule over a day per batch of people, and
"mail send" is a token for the mailbox (Graph has no dry run of sendMail; its 202 would only mean
accepted anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from coachd.config import ProgramConfig
from coachd.providers.base import CredentialsExpired, ProviderError, Transient
from coachd.providers.credentials import CredentialStore
from coachd.providers.family import ProviderRefused
from coachd.providers.microsoft.auth import (
    AuthFileProblem,
    graph_credentials,
    identify,
    read_certificate,
    read_secret,
)
from coachd.providers.microsoft.client import GraphClient
from coachd.providers.microsoft.family import MicrosoftSection, microsoft_sections
from coachd.providers.retry import RetryPolicy

TIMEOUT_SECONDS = 20.0
# getSchedule: the documented limit of schedules per call (the service refuses over 100).
SCHEDULES_PER_CALL = 20
# A check answers within seconds: one retry at most, and no long wait on a throttled answer.
CHECK_POLICY = RetryPolicy(attempts=2, total=timedelta(seconds=10), longest=timedelta(seconds=5))


@dataclass(frozen=True)
class CheckLine:
    ok: bool
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.what}: {self.detail}"


def auth_problems(cfg: ProgramConfig) -> list[tuple[str, str]]:
    """(field, message) for each Microsoft secret or certificate that cannot be used: what `check` reports
    offline (a delegated login is only known online)."""
    problems: list[tuple[str, str]] = []
    for role, section in microsoft_sections(cfg.organizer):
        try:
            identify(section)
            if section.secret_env is not None:
                read_secret(section.secret_env)
            elif section.certificate is not None:
                read_certificate(section.certificate)
        except AuthFileProblem as problem:
            problems.append((f"organizer.{role}.{problem.option}", problem.reason))
    return problems


def online_checks(cfg: ProgramConfig, state_dir: Path, timeout: float = TIMEOUT_SECONDS,
                  policy: RetryPolicy = CHECK_POLICY) -> Iterator[CheckLine]:
    """One line per check, for each Microsoft provider of the organizer, as each one is done."""
    store = CredentialStore(state_dir)
    organizer = str(cfg.organizer.email)
    for role, section in microsoft_sections(cfg.organizer):
        mailbox = section.mailbox_of(organizer) or organizer
        what = f"organizer.{role} credentials"
        try:
            credentials = graph_credentials(section, store, organizer_email=organizer, role=role, timeout=timeout)
            credentials.token()
        except ProviderRefused as refused:
            yield CheckLine(False, what, f"{refused.field}: {refused.reason}")
            continue
        except (CredentialsExpired, Transient) as error:
            yield CheckLine(False, what, str(error))
            continue
        how = "app-only" if section.app_only else "delegated login"
        yield CheckLine(True, what, f"a token for {mailbox} ({how}, {section.authority})")
        client = GraphClient(credentials, section.graph_url, mailbox, timeout=timeout, policy=policy)
        try:
            yield from _ROLE_CHECKS[role](client, section, cfg)
        except ProviderError as error:
            yield CheckLine(False, f"organizer.{role}", str(error))
        finally:
            client.close()


def _calendar(client: GraphClient, section: MicrosoftSection, _cfg: ProgramConfig) -> Iterator[CheckLine]:
    calendar_id = getattr(section, "calendar_id", None)
    path = f"{client.users_path}/calendars/{quote(calendar_id, safe='')}" if calendar_id else \
        f"{client.users_path}/calendar"
    found = client.json("GET", path, params={"$select": "id,name,canEdit"}, what="GET calendar")
    name = calendar_id or "the primary calendar"
    editable = bool(found.get("canEdit"))
    yield CheckLine(editable, f"calendar {name} of {client.mailbox} writable",
                    "canEdit" if editable else "Graph says coachd cannot edit it (canEdit false)")


def _busy(client: GraphClient, _section: MicrosoftSection, cfg: ProgramConfig) -> Iterator[CheckLine]:
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0)
    emails = [str(person.email) for person in cfg.people]
    for first in range(0, len(emails), SCHEDULES_PER_CALL):
        batch = emails[first:first + SCHEDULES_PER_CALL]
        body = {"schedules": batch, "availabilityViewInterval": 60,
                "startTime": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "endTime": {"dateTime": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}
        answer: dict[str, Any] = client.json("POST", f"{client.users_path}/calendar/getSchedule", body=body,
                                             what=f"getSchedule for {len(batch)} people") or {}
        by_email = {str(item.get("scheduleId", "")).lower(): item for item in answer.get("value") or ()}
        for email in batch:
            item = by_email.get(email.lower())
            error = (item or {}).get("error") if item is not None else {"message": "not answered"}
            if error:
                reason = error.get("responseCode") or error.get("message") or "unreadable"
                yield CheckLine(False, f"free/busy of {email}", f"not readable ({reason})")
            else:
                yield CheckLine(True, f"free/busy of {email}", "readable")


def _send(client: GraphClient, _section: MicrosoftSection, _cfg: ProgramConfig) -> Iterator[CheckLine]:
    yield CheckLine(True, "mail send", f"a token for {client.mailbox}; Mail.Send is not tried (nothing was sent to "
                                       "find out)")


def _receive(client: GraphClient, section: MicrosoftSection, _cfg: ProgramConfig) -> Iterator[CheckLine]:
    folder = getattr(section, "folder", "inbox")
    found = client.json("GET", f"{client.users_path}/mailFolders/{quote(folder, safe='')}",
                        params={"$select": "id,displayName,totalItemCount"}, what=f"GET mail folder {folder}")
    yield CheckLine(True, "mail read", f"the folder {found.get('displayName') or folder} of {client.mailbox} "
                                       f"({found.get('totalItemCount', '?')} messages)")


_ROLE_CHECKS = {"calendar": _calendar, "busy": _busy, "send": _send, "receive": _receive}
