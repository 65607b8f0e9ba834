"""The busy role on Google Workspace: freebusy.query for up to 50 people over up to 90 days a call.

Google derives free/busy from each person's own calendar, so the sessions coachd booked (and invited
them to) are in it: the provider declares `shows_sessions`, and the planner leaves a series' own
occurrences out of its attendees' busy times (coachd.plan.own_sessions).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google.auth.credentials
from googleapiclient.discovery import Resource

from coachd.model.intervals import merge
from coachd.model.types import Interval
from coachd.providers.base import BusyLimits, BusyPerson, BusySourceError, BusyTimes, ProviderError, Throttled
from coachd.providers.credentials import CredentialStore
from coachd.providers.google.client import DEFAULT_API_ROOT, DEFAULT_TIMEOUT_SECONDS, build_service, execute
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger("coachd.google")

# Least privilege: free/busy only, no event details.
FREEBUSY_SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
# calendarExpansionMax's documented maximum.
MAX_CALENDARS = 50
# Google refuses ranges "much over" about three months (timeRangeTooLong); 90 days stays clear of it.
MAX_WINDOW = timedelta(days=90)
# Google's answer for a calendar it cannot see: the person is outside the Workspace (or shares no
# free/busy). They have no busy time Google knows of, which is not a failure: their own `busy:` feed,
# if any, still counts (CombinedBusy), and without one they are as free as a person with no source.
NOT_FOUND = "notFound"


class GoogleBusy:
    """Free/busy of people in the organizer's Workspace (the BusyProvider protocol).

    One freebusy.query per request of `ask_within_limits` (at most `MAX_CALENDARS` people, `MAX_WINDOW`
    long), through client.execute: throttling, 5xx and timeouts are retried there under `policy`. A
    calendar Google answers with an error (internalError, ...) is a failure of that person only, so the
    caller keeps their last known busy times. A request that fails as a whole raises (the caller marks
    everyone in it as failed); after a throttling answer that outlasts the retries (a daily quota), no
    request is made until its retry-after has passed, so a pass cannot hammer an exhausted quota.
    """

    limits = BusyLimits(max_window=MAX_WINDOW, max_batch=MAX_CALENDARS)
    # People's busy times include the events they attend, coachd's sessions among them.
    shows_sessions = True

    def __init__(self, credentials: google.auth.credentials.Credentials, *, api_root: str = DEFAULT_API_ROOT,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, policy: RetryPolicy = DEFAULT_POLICY,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.credentials = credentials
        self.api_root = api_root
        self.timeout = timeout
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC))
        # Emails Google answered notFound on the last query that asked for them (`coachd check --online`).
        self.not_found: set[str] = set()
        self._service: Resource | None = None
        self._not_before: datetime | None = None
        self._throttled: Throttled | None = None

    @property
    def service(self) -> Resource:
        # Built on first use: building reads the bundled discovery document, never the network.
        if self._service is None:
            self._service = build_service("calendar", "v3", self.api_root, self.credentials, self.timeout)
        return self._service

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        if len(people) > MAX_CALENDARS or window.duration > MAX_WINDOW:
            raise ValueError(f"{len(people)} people over {window.duration}: over freebusy.query's limits "
                             "(ask through coachd.providers.busy.ask_within_limits)")
        if not people or window.end <= window.start:
            return BusyTimes({p.id: [] for p in people})
        self._wait_for_quota()
        emails = list(dict.fromkeys(p.email for p in people))
        body = {"timeMin": _rfc3339(window.start), "timeMax": _rfc3339(window.end), "timeZone": "UTC",
                "items": [{"id": email} for email in emails]}
        what = f"freebusy.query for {len(emails)} people"
        try:
            answer = execute(lambda: self.service.freebusy().query(body=body), what, self.policy)
        except Throttled as error:
            if error.retry_after is not None:
                self._not_before, self._throttled = self.clock() + error.retry_after, error
            raise
        return self._read(people, window, answer.get("calendars") or {})

    def _wait_for_quota(self) -> None:
        if self._not_before is None:
            return
        left = self._not_before - self.clock()
        if left > timedelta(0):
            raise Throttled(f"freebusy.query not asked before {self._not_before.isoformat()}: {self._throttled}", left)
        self._not_before = self._throttled = None

    def _read(self, people: Sequence[BusyPerson], window: Interval, calendars: dict[str, Any]) -> BusyTimes:
        # Google keys its answer by the id asked; addresses are matched without regard to case.
        by_email = {key.lower(): value for key, value in calendars.items()}
        times: dict[str, list[Interval]] = {}
        failures: dict[str, ProviderError] = {}
        for person in people:
            source = f"Google free/busy of {person.email}"
            calendar = calendars.get(person.email, by_email.get(person.email.lower()))
            if not isinstance(calendar, dict):
                failures[person.id] = BusySourceError(person.id, source, "Google's answer left this calendar out")
                continue
            reasons = [str(e.get("reason")) for e in calendar.get("errors") or () if isinstance(e, dict)]
            if reasons == [NOT_FOUND]:
                self._note_not_found(person)
                times[person.id] = []
                continue
            if reasons:
                failures[person.id] = BusySourceError(person.id, source, "Google could not read this calendar ("
                                                      + ", ".join(reasons) + ")")
                continue
            self.not_found.discard(person.email.lower())
            try:
                spans = [_span(block, window) for block in calendar.get("busy") or ()]
            except (KeyError, TypeError, ValueError) as error:
                failures[person.id] = BusySourceError(person.id, source, f"unreadable busy block: {error}")
                continue
            times[person.id] = merge(span for span in spans if span is not None)
        return BusyTimes(times, failures)

    def _note_not_found(self, person: BusyPerson) -> None:
        email = person.email.lower()
        if email not in self.not_found:
            # Once per person while it lasts: the admin may have mistyped an address or expected a colleague.
            log.warning("Google free/busy does not know %s (%s): outside the Workspace or not shared; only "
                        "their own busy: calendar, if any, says when they are busy", person.id, person.email)
            self.not_found.add(email)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(block: dict[str, str], window: Interval) -> Interval | None:
    """One busy block in UTC, cut to the window (None when nothing of it is inside)."""
    start = _parse(block["start"])
    end = _parse(block["end"])
    start, end = max(start, window.start), min(end, window.end)
    return Interval(start, end) if start < end else None


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without an offset: {value!r}")
    return parsed.astimezone(UTC)


def google_busy(state_dir: Path, *, api_root: str = DEFAULT_API_ROOT, auth: Any = None,
                credential_store: CredentialStore | None = None, organizer_email: str | None = None,
                credentials: google.auth.credentials.Credentials | None = None,
                timeout: float = DEFAULT_TIMEOUT_SECONDS) -> GoogleBusy:
    """The `busy: {provider: google}` factory: credentials from the section's `auth:` block (a service
    account acting for `auth.subject`, else the organizer; or the installed-app login kept in the
    credential store), asking for calendar.freebusy only. `credentials` replaces `auth` (tests)."""
    del state_dir  # nothing is kept here: the sync stores the busy times themselves
    if credentials is None:
        from coachd.providers.google.auth import google_credentials

        credentials = google_credentials(auth, [FREEBUSY_SCOPE], credential_store, subject=organizer_email,
                                         role="busy")
    return GoogleBusy(credentials, api_root=api_root, timeout=timeout)
