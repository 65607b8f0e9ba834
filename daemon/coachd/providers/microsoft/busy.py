"""The busy role on Microsoft 365: Graph getSchedule for up to 20 people over up to 62 days a call.

getSchedule reads each person's own calendar, so the sessions coachd booked (Exchange put them there
when it invited them) are in it: the provider declares `shows_sessions`, and the planner leaves a
series' own occurrences out of its attendees' busy times (coachd.plan.own_sessions).

Which items count as busy (a scheduleItem's freeBusyStatus):
- busy and oof (away): busy.
- tentative: busy. A person who said "maybe" to a meeting, or has not answered an invitation Exchange
  put in their calendar, may well be there; booking over it risks a double-booked coach, which is worse
  than a session placed a little less well (README, "Outlook free/busy").
- free and workingElsewhere: free (Graph itself shows working elsewhere as free in availabilityView).
- anything else (unknown, or a status added later): busy, for the same reason as tentative.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from coachd.model.intervals import merge
from coachd.model.types import Interval
from coachd.providers.base import BusyLimits, BusyPerson, BusySourceError, BusyTimes, ProviderError, Throttled
from coachd.providers.credentials import CredentialStore
from coachd.providers.microsoft.client import GraphClient
from coachd.providers.microsoft.family import OutlookBusySection
from coachd.providers.microsoft.zones import from_graph, to_graph

log = logging.getLogger("coachd.microsoft")

# Graph's documents give 20 schedules a call; the service is seen to refuse only over 100
# (ErrorMailboxDataArrayTooBig). Keeping to the documented number is safe against both.
MAX_SCHEDULES = 20
# Over 62 days Graph answers ErrorTimeIntervalTooBig.
MAX_WINDOW = timedelta(days=62)
# coachd reads scheduleItems, never availabilityView: the longest slot Graph allows keeps that string short.
VIEW_INTERVAL_MINUTES = 1440
FREE_STATUSES = frozenset({"free", "workingElsewhere"})
# Graph's answer for an address it cannot resolve in the tenant (seen as responseCode 5009, "Unable to
# resolve e-mail address ... to an Active Directory object"; ErrorMailRecipientNotFound in Exchange's
# own words). Such a person is outside the tenant: no busy time Graph knows of, which is not a failure;
# their own `busy:` feed, if any, still counts (CombinedBusy), as for Google's notFound.
NOT_FOUND_CODES = frozenset({"5009", "ErrorMailRecipientNotFound"})


class OutlookBusy:
    """Free/busy of people in the organizer's tenant (the BusyProvider protocol).

    One getSchedule per request of `ask_within_limits` (at most `MAX_SCHEDULES` people, `MAX_WINDOW`
    long), asked of the configured mailbox's calendar through the Graph client: throttling (429, 503,
    504 with Retry-After), other 5xx and timeouts are retried there. A person Graph answers with an
    `error` is a failure of that person only, so the caller keeps their last known busy times. A request
    that fails as a whole raises (the caller marks everyone in it as failed); after a throttling answer
    that outlasts the retries, no request is made until its Retry-After has passed.
    """

    limits = BusyLimits(max_window=MAX_WINDOW, max_batch=MAX_SCHEDULES)
    # People's busy times include the events they attend, coachd's sessions among them.
    shows_sessions = True

    def __init__(self, client: GraphClient, *, clock: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.clock = clock or (lambda: datetime.now(UTC))
        # Addresses Graph could not resolve on the last call that asked for them (`coachd check --online`).
        self.not_found: set[str] = set()
        self._not_before: datetime | None = None
        self._throttled: Throttled | None = None

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        if len(people) > MAX_SCHEDULES or window.duration > MAX_WINDOW:
            raise ValueError(f"{len(people)} people over {window.duration}: over getSchedule's limits "
                             "(ask through coachd.providers.busy.ask_within_limits)")
        if not people or window.end <= window.start:
            return BusyTimes({p.id: [] for p in people})
        self._wait_for_throttling()
        # One schedule per address, whatever its case: Exchange resolves addresses without regard to it.
        spelled: dict[str, str] = {}
        for person in people:
            spelled.setdefault(person.email.lower(), person.email)
        emails = list(spelled.values())
        start, end = _whole_seconds(window)
        body = {"schedules": emails, "startTime": to_graph(start, "UTC"), "endTime": to_graph(end, "UTC"),
                "availabilityViewInterval": VIEW_INTERVAL_MINUTES}
        try:
            # Items in UTC: no wall time a zone shows twice or never, whatever each person's zone.
            answer = self.client.json("POST", f"{self.client.users_path}/calendar/getSchedule", body=body,
                                      prefer=['outlook.timezone="UTC"'], what=f"getSchedule for {len(emails)} people")
        except Throttled as error:
            if error.retry_after is not None:
                self._not_before, self._throttled = self.clock() + error.retry_after, error
            raise
        return self._read(people, window, (answer or {}).get("value") or [])

    def _wait_for_throttling(self) -> None:
        if self._not_before is None:
            return
        left = self._not_before - self.clock()
        if left > timedelta(0):
            raise Throttled(f"getSchedule not asked before {self._not_before.isoformat()}: {self._throttled}", left)
        self._not_before = self._throttled = None

    def _read(self, people: Sequence[BusyPerson], window: Interval, schedules: list[Any]) -> BusyTimes:
        by_email = {str(s.get("scheduleId", "")).lower(): s for s in schedules if isinstance(s, dict)}
        times: dict[str, list[Interval]] = {}
        failures: dict[str, ProviderError] = {}
        for person in people:
            source = f"Outlook free/busy of {person.email}"
            schedule = by_email.get(person.email.lower())
            if schedule is None:
                failures[person.id] = BusySourceError(person.id, source, "Graph's answer left this schedule out")
                continue
            error = schedule.get("error")
            if isinstance(error, dict):
                code = str(error.get("responseCode") or "")
                if code in NOT_FOUND_CODES:
                    self._note_not_found(person)
                    times[person.id] = []
                    continue
                message = str(error.get("message") or "no message")
                failures[person.id] = BusySourceError(person.id, source,
                                                      f"Graph could not read this schedule ({code or 'no code'}: "
                                                      f"{message})")
                continue
            self.not_found.discard(person.email.lower())
            try:
                spans = [_span(item, window) for item in schedule.get("scheduleItems") or ()
                         if item.get("status") not in FREE_STATUSES]
            except (KeyError, TypeError, ValueError, AttributeError) as failure:
                failures[person.id] = BusySourceError(person.id, source, f"unreadable schedule item: {failure}")
                continue
            times[person.id] = merge(span for span in spans if span is not None)
        return BusyTimes(times, failures)

    def _note_not_found(self, person: BusyPerson) -> None:
        email = person.email.lower()
        if email not in self.not_found:
            # Once per person while it lasts: the admin may have mistyped an address or expected a colleague.
            log.warning("Outlook free/busy cannot resolve %s (%s): outside the tenant; only their own busy: "
                        "calendar, if any, says when they are busy", person.id, person.email)
            self.not_found.add(email)


def _whole_seconds(window: Interval) -> tuple[datetime, datetime]:
    """The window in whole seconds (Graph's dateTime is sent without fractions), never longer than the limit."""
    start = window.start.astimezone(UTC).replace(microsecond=0)
    end = window.end.astimezone(UTC)
    if end.microsecond:
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return start, min(end, start + MAX_WINDOW)


def _span(item: dict[str, Any], window: Interval) -> Interval | None:
    """One schedule item in UTC, cut to the window (None when nothing of it is inside)."""
    start = max(from_graph(item["start"]).astimezone(UTC), window.start)
    end = min(from_graph(item["end"]).astimezone(UTC), window.end)
    return Interval(start, end) if start < end else None


def outlook_busy(state_dir: Path, *, section: OutlookBusySection, credential_store: CredentialStore | None = None,
                 organizer_email: str | None = None, client: GraphClient | None = None) -> OutlookBusy:
    """The `busy: {provider: outlook}` factory: getSchedule asked of the section's mailbox (default: the
    organizer's) with Calendars.Read, app-only or through the delegated login in the credential store.
    Connects to nothing until the first question. `client` replaces the section's (tests)."""
    del state_dir  # nothing is kept here: the sync stores the busy times themselves
    if client is None:
        from coachd.providers.microsoft.connect import graph_client

        client = graph_client(section, "busy", credential_store=credential_store, organizer_email=organizer_email)
    return OutlookBusy(client)
