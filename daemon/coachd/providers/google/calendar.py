"""The `google` calendar: each series one recurring event in the organizer's Google Calendar.

Writes are idempotent by construction: the event id is derived from coachd's UID, so an insert
retried after a timeout, a lost answer or a crash answers 409 `duplicate` ("already created") and
becomes an update (of a cancelled event too: it is revived, never duplicated). Moved and cancelled
occurrences are instance exceptions; a series ended early gets an UNTIL. Sync follows Google's sync
tokens over every page; an expired one (410) is SyncCursorExpired, and the caller's full sync then
reconciles what was deleted in the gap (observe/calendar_sync.py).

Invitations, one path per attendee: whoever is listed on Google's event is invited, updated and
cancelled by Google (sendUpdates=all), and coachd mails them nothing of its own; guests outside the
Workspace can be left off Google's event and get coachd's iTIP mail instead (`outside_guests`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import google.auth.credentials
from googleapiclient.discovery import Resource

from coachd.model.types import BookedSeries
from coachd.providers.base import (
    CalendarCapabilities,
    CalendarEntry,
    CalendarProvider,
    CalendarStoreError,
    SeriesNotFound,
    SyncCursorExpired,
    SyncResult,
)
from coachd.providers.google import calendar_events as events
from coachd.providers.google.client import (
    DEFAULT_API_ROOT,
    DEFAULT_TIMEOUT_SECONDS,
    GoogleApiError,
    GoogleSyncTokenExpired,
    build_service,
    execute,
)
from coachd.providers.google.family import ROLE_SCOPES
from coachd.providers.retry import DEFAULT_POLICY, RetryPolicy

if TYPE_CHECKING:
    from coachd.providers.credentials import CredentialStore

# Least privilege: events of calendars the account can write, nothing of its settings or ACLs.
SCOPES = ROLE_SCOPES["calendar"]
_CURSOR = "google-calendar:1:"
# The most Google gives in one page; it may still answer short pages.
_PAGE = 2500
# A sync that brings more changed series than this reads the whole calendar in one listing rather than
# each series in a listing of its own, unless the last whole listing took more pages than that.
_READ_WHOLE_AFTER = 4
OutsideGuests = Literal["google", "coachd"]


class GoogleCalendar(CalendarProvider):
    """The organizer's Google Calendar (`calendar_id`, default their primary one)."""

    def __init__(self, credentials: google.auth.credentials.Credentials, *, organizer_email: str,
                 calendar_id: str = "primary", api_root: str = DEFAULT_API_ROOT,
                 outside_guests: OutsideGuests = "google", workspace_domains: Sequence[str] = (),
                 policy: RetryPolicy = DEFAULT_POLICY, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.calendar_id = calendar_id
        self.policy = policy
        self.outside_guests = outside_guests
        domain = organizer_email.rsplit("@", 1)[-1].lower()
        self.workspace_domains = frozenset({domain, *(d.lower() for d in workspace_domains)})
        self.service: Resource = build_service("calendar", "v3", api_root, credentials, timeout)
        # Built once: the client library makes each resource anew from the discovery document on every
        # `service.events()`, which cost as much as the request itself against a near answer.
        self._events_api: Any = self.service.events()
        # Pages the last listing of the whole calendar took: what reading it whole costs again.
        self._whole_pages = 0
        self.capabilities = CalendarCapabilities(invites_attendees=True, hand_edits=True,
                                                 invited_by_calendar=self.on_event)

    def on_event(self, email: str) -> bool:
        """Whether an attendee is listed on Google's event, and so invited by Google rather than coachd.

        Colleagues in the Workspace always are: Google puts the event straight into their calendar,
        so an iTIP mail from coachd (another UID) would put it there a second time. Outside guests
        are too unless `outside_guests` is "coachd" (Google caps invitations to outside guests per
        day, and coachd's mail then carries its own UID and headers to them)."""
        return self.outside_guests == "google" or email.lower().rsplit("@", 1)[-1] in self.workspace_domains

    # --- writes --------------------------------------------------------------------------------------

    def upsert_series(self, series: BookedSeries, organizer_name: str, organizer_email: str, *,
                      dtstamp: datetime) -> None:
        """Insert the event under its derived id; 409 means it exists (an earlier try, or cancelled):
        patch what differs. Then the occurrences' exceptions.

        One email per attendee per change, however many writes it takes and however often it is
        retried: the first write that changes what attendees see mails them (sendUpdates), every
        other write is silent, and the event records the sequence they were told of (TOLD), so a
        retry after a lost answer or a crash between writes mails nobody a second time. A change
        that takes several writes marks the event (WRITING) until its last one, so that a sync in
        between does not take the half-written series for a person's edit."""
        spec = series.spec
        n = series.sequence
        eid = events.event_id(spec.uid)
        recurring = spec.every is not None and not series.cancelled
        wanted = events.wanted_overrides(series) if recurring else {}
        body = self._body(series, {}, n, told=n, writing=bool(wanted))
        try:
            self._call(lambda: self._events().insert(calendarId=self.calendar_id, body=body,
                                                     sendUpdates=self._send(body)), f"events.insert {eid}")
        except GoogleApiError as error:
            if error.status != 409:
                raise CalendarStoreError(f"Google Calendar refused series {spec.uid}: {error}") from error
        else:
            if wanted:  # a new event has no exceptions yet
                self._write_occurrences(series, self._occurrence_patches(series, eid, []), told=True)
                self._mark(eid, series, told=n, writing=False)
            return
        current = self._get(eid)  # already created (by an earlier try, or cancelled): update it
        was_deleted = not events.tagged(current)
        ical_uid = current.get("iCalUID")
        held = self._exceptions(eid, ical_uid) if recurring and not was_deleted else []
        # Told already by an earlier try: on the event, or on the occurrence whose write mailed them.
        told = not was_deleted and n in {events.told_of(current), *(events.told_of(x) for x in held)}
        patches = self._occurrence_patches(series, eid, held)
        responses = events.responses(current)
        sequence = max(n, int(current.get("sequence", 0)))
        final = self._body(series, responses, sequence, told=n)
        if was_deleted or events.notable(current, final):
            # The event first: changing its times or rule may drop Google's exceptions, written after it.
            several = bool(patches or wanted)
            self._patch(eid, self._body(series, responses, sequence, told=n, writing=several),
                        "none" if told else self._send(final))
            if several:
                self._write_occurrences(series, self._occurrence_patches(series, eid, self._exceptions(eid, ical_uid)),
                                        told=True)
                self._mark(eid, series, told=n, writing=False)
            return
        if patches:
            # The occurrences first (the first one mails), the event's new sequence and record last.
            first = self._body(series, responses, sequence, told=events.told_of(current), writing=True)
            if events.managed(current) != events.managed(first):
                self._patch(eid, first, "none")
            self._write_occurrences(series, patches, told=told)
        if patches or events.managed(current) != events.managed(final):
            self._patch(eid, final, "none")

    def _body(self, series: BookedSeries, responses: Mapping[str, str], sequence: int, *, told: int | None,
              writing: bool = False) -> dict[str, Any]:
        return events.master_body(series, on_event=self.on_event, responses=responses, sequence=sequence,
                                  told=told, writing=writing)

    def _occurrence_patches(self, series: BookedSeries, eid: str,
                            exceptions: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """The instance writes that make Google's exceptions say what coachd's overrides say: moved
        ones to their time, cancelled ones status cancelled, ones coachd no longer overrides put back."""
        spec = series.spec
        wanted = events.wanted_overrides(series)
        held = {state.recurrence_id: state for state in (events.exception_state(x, spec.length) for x in exceptions)}
        # A new time asks everyone again, as a rewritten iCalendar override does: an answer given
        # for the old time (a decline that made coachd move it) must not stick to the new one.
        fresh = self._body(series, {}, 0, told=None)["attendees"]
        patches = []
        for rid in sorted(set(wanted) | set(held)):
            want = wanted.get(rid)
            have = held.get(rid)
            if have is not None and (have.start, have.end) == (rid, rid + spec.length) and not have.cancelled:
                have = None  # an exception for answers only: nothing coachd overrides
            if want == have:
                continue
            if want is not None and want.cancelled:
                patch: dict[str, Any] = {"status": "cancelled"}
            else:
                start, end = (rid, rid + spec.length) if want is None else (want.start, want.end)
                patch = {"start": events.event_time(start, spec.timezone), "end": events.event_time(end, spec.timezone),
                         "status": "confirmed", "attendees": fresh}
            patches.append((events.instance_id(eid, rid), patch))
        return patches

    def _write_occurrences(self, series: BookedSeries, patches: list[tuple[str, dict[str, Any]]], *,
                           told: bool) -> None:
        """Write the instances; the first mails the attendees unless they were `told` already."""
        for iid, patch in patches:
            send = "none" if told else ("all" if self._listed(series) else "none")
            if not told:  # the write that mails them records it, for a retry cut short after it
                private = events.private_of(series, told=series.sequence, writing=False)
                patch = {**patch, "extendedProperties": {"private": private}}
            self._call(lambda iid=iid, patch=patch, send=send: self._events().patch(  # type: ignore[misc]
                calendarId=self.calendar_id, eventId=iid, body=patch, sendUpdates=send), f"events.patch {iid}")
            told = True

    def _mark(self, eid: str, series: BookedSeries, *, told: int, writing: bool) -> None:
        """Record the state of a change on the event, silently (the whole private map: patch may replace it)."""
        private = events.private_of(series, told=told, writing=writing)
        self._patch(eid, {"extendedProperties": {"private": private}}, "none")

    def _patch(self, eid: str, body: dict[str, Any], send: str) -> None:
        self._call(lambda: self._events().patch(calendarId=self.calendar_id, eventId=eid, body=body,
                                                sendUpdates=send), f"events.patch {eid}")

    def cancel_series(self, uid: str) -> None:
        eid = events.event_id(uid)
        current = self._find(eid)
        if current is None or not events.tagged(current):
            raise SeriesNotFound(uid)  # never booked, or deleted by a person already
        if current.get("status") == "cancelled":
            return
        # Status cancelled, not events.delete: the event keeps what it was, so the series stays visible.
        # Its sequence is given as it is: the caller owns sequence numbers.
        body = {"status": "cancelled", "sequence": int(current.get("sequence", 0))}
        self._call(lambda: self._events().patch(calendarId=self.calendar_id, eventId=eid, body=body,
                                                sendUpdates=self._send(current)), f"events.patch {eid}")

    # --- reads ---------------------------------------------------------------------------------------

    def list_series(self) -> list[CalendarEntry]:
        masters, exceptions = self._split(self._listing(showDeleted=True))
        return _entries(masters, exceptions)[0]

    def sync(self, cursor: str | None) -> SyncResult:
        if cursor is None:
            items, token = self._pages(showDeleted=True)
            masters, exceptions = self._split(items)
            entries, errors = _entries(masters, exceptions)
            gone = [uid for m in masters.values() if not events.tagged(m) and (uid := events.uid_of(m["id"]))]
            return SyncResult(entries, sorted(gone), _CURSOR + token, errors)
        if not cursor.startswith(_CURSOR) or len(cursor) == len(_CURSOR):
            raise SyncCursorExpired("not a Google Calendar sync cursor: sync again in full")
        try:
            items, token = self._pages(syncToken=cursor[len(_CURSOR):])
        except GoogleSyncTokenExpired as error:
            raise SyncCursorExpired(f"Google Calendar asks for a full sync: {error}") from error
        except GoogleApiError as error:
            if error.status == 400:  # a token Google cannot read is as good as expired
                raise SyncCursorExpired(f"Google Calendar refused the sync token: {error}") from error
            raise
        return self._changes(items, _CURSOR + token)

    def _changes(self, items: list[dict[str, Any]], cursor: str) -> SyncResult:
        """Changed events (and occurrences) -> whole entries: each changed series read once with its exceptions."""
        changed: dict[str, dict[str, Any] | None] = {}
        for item in items:
            master_id = item.get("recurringEventId") or item["id"]
            if events.is_ours(master_id):
                known = changed.get(master_id)
                changed[master_id] = known or (item if "recurringEventId" not in item else None)
        entries: list[CalendarEntry] = []
        gone: list[str] = []
        errors: list[tuple[str, str]] = []
        # A series' entry needs all its exceptions, not only the changed ones: one listing per changed
        # series, or, when many changed (coachd's own booking read back, a re-plan), one of the whole
        # calendar, a few pages instead of one request per series.
        whole = (self._split(self._listing(showDeleted=False))
                 if len(changed) > max(_READ_WHOLE_AFTER, self._whole_pages) else None)
        for master_id, seen in changed.items():
            master = seen if seen is not None and events.tagged(seen) else self._find(master_id)
            if master is None or not events.tagged(master):
                uid = events.uid_of(master_id)
                if uid is None:
                    errors.append((master_id, "a deleted event with a hashed id: its UID is unknown"))
                else:
                    gone.append(uid)
                continue
            found, own = whole or self._split(self._listing(iCalUID=master["iCalUID"], showDeleted=False))
            done, busy = _entries({master_id: found.get(master_id, master)}, own)
            entries += done
            errors += busy
        return SyncResult(sorted(entries, key=lambda e: e.uid), sorted(gone), cursor, errors)

    # --- calls ---------------------------------------------------------------------------------------

    def _events(self) -> Any:
        return self._events_api

    def _call(self, request: Callable[[], Any], what: str) -> Any:
        return execute(request, f"{what} on {self.calendar_id}", self.policy)

    def _get(self, eid: str) -> dict[str, Any]:
        found = self._find(eid)
        if found is None:
            raise CalendarStoreError(f"Google Calendar answered 409 for event {eid} but does not show it")
        return found

    def _find(self, eid: str) -> dict[str, Any] | None:
        """The event (a deleted one shows its id and status only), or None when Google never held it."""
        try:
            return self._call(lambda: self._events().get(calendarId=self.calendar_id, eventId=eid), f"events.get {eid}")
        except GoogleApiError as error:
            if error.status in (404, 410):
                return None
            raise CalendarStoreError(f"Google Calendar cannot read event {eid}: {error}") from error

    def _pages(self, *, token: bool = True, **query: Any) -> tuple[list[dict[str, Any]], str]:
        """Every item of an events.list over all its pages, and the nextSyncToken of the last page
        (required with `token`: a listing to sync from must end with one)."""
        items: list[dict[str, Any]] = []
        page: str | None = None
        pages = 0
        while True:
            answer = self._call(lambda page=page: self._events().list(  # type: ignore[misc]
                calendarId=self.calendar_id, maxResults=_PAGE, pageToken=page, **query), "events.list")
            items.extend(answer.get("items", []))
            pages += 1
            page = answer.get("nextPageToken")
            if page is None:
                if "iCalUID" not in query and "syncToken" not in query:
                    self._whole_pages = pages
                sync_token = answer.get("nextSyncToken") or ""
                if token and not sync_token:
                    raise CalendarStoreError("Google Calendar ended a listing without a sync token")
                return items, sync_token

    def _listing(self, **query: Any) -> list[dict[str, Any]]:
        return self._pages(token=False, **query)[0]

    def _exceptions(self, eid: str, ical_uid: str | None) -> list[dict[str, Any]]:
        if not ical_uid:
            return []
        # The recurring event and its exceptions share the iCalUID: one listing holds them all.
        return self._split(self._listing(iCalUID=ical_uid, showDeleted=False))[1].get(eid, [])

    @staticmethod
    def _split(items: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        masters: dict[str, dict[str, Any]] = {}
        exceptions: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if "recurringEventId" in item:
                exceptions.setdefault(item["recurringEventId"], []).append(item)
            elif events.is_ours(item["id"]):
                masters[item["id"]] = item
        return masters, exceptions

    def _listed(self, body: Mapping[str, Any] | BookedSeries) -> bool:
        if isinstance(body, BookedSeries):
            return any(self.on_event(p.email) for p in body.spec.everyone())
        return bool(body.get("attendees"))

    def _send(self, body: Mapping[str, Any]) -> str:
        """sendUpdates for a write: Google mails everyone listed on the event (see `on_event`)."""
        return "all" if self._listed(body) else "none"


def _entries(masters: Mapping[str, dict[str, Any]], exceptions: Mapping[str, list[dict[str, Any]]]
             ) -> tuple[list[CalendarEntry], list[tuple[str, str]]]:
    """Our series among `masters`, sorted by UID; one coachd is half-way through writing is not an
    entry yet but an error naming its UID (it is read whole once the change is written)."""
    entries: list[CalendarEntry] = []
    errors: list[tuple[str, str]] = []
    for master in masters.values():
        if not events.tagged(master):
            continue
        entry = events.entry_of(master, exceptions.get(master["id"], []))
        if events.writing(master):
            errors.append((entry.uid, "coachd is writing a change of this series; read again when it is done"))
        else:
            entries.append(entry)
    return sorted(entries, key=lambda e: e.uid), errors


def google_calendar(state_dir: Path, *, auth: Any = None, api_root: str = DEFAULT_API_ROOT,
                    credential_store: CredentialStore | None = None, organizer_email: str | None = None,
                    calendar_id: str | None = None, outside_guests: OutsideGuests = "google",
                    workspace_domains: Sequence[str] = (),
                    credentials: google.auth.credentials.Credentials | None = None,
                    timeout: float = DEFAULT_TIMEOUT_SECONDS) -> GoogleCalendar:
    """The `calendar: {provider: google}` factory: credentials from the section's `auth:` block (a
    service account acting for `auth.subject`, else the organizer; or the installed-app login kept in
    the credential store), asking for calendar.events only. `credentials` replaces `auth` (tests)."""
    del state_dir  # nothing is kept here: Google holds the series, the sync keeps its cursor
    if credentials is None:
        from coachd.providers.google.auth import google_credentials

        credentials = google_credentials(auth, SCOPES, credential_store, subject=organizer_email, role="calendar")
    account = organizer_email or getattr(auth, "subject", None)
    if not account:
        raise ValueError("the google calendar needs the organizer's email: its Workspace decides who is outside")
    return GoogleCalendar(credentials, organizer_email=account, calendar_id=calendar_id or "primary",
                          api_root=api_root, outside_guests=outside_guests, workspace_domains=workspace_domains,
                          timeout=timeout)
