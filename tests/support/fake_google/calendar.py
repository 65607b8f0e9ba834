"""Calendar v3 events in the fake: insert/get/update/patch/delete/list/instances, sync tokens, and the
mail Google would send (sendUpdates) recorded per attendee, plus the hooks a test drives it with
(a person moving or cancelling an occurrence, deleting an event, an attendee answering).

Where Google's documents are silent, the fake takes the stricter plausible behaviour and says so in
a comment beginning "Stricter:".
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from tests.support.fake_google.calendar_mail import Mailed, mails_for, send_updates, significant
from tests.support.fake_google.calendar_rules import (
    INSTANCE_ID,
    check_event_id,
    decode,
    duration_of,
    encode,
    event_time,
    instance_id,
    invalid,
    merged,
    original_start_of,
    parse_recurrence,
    rfc3339,
    when,
    within,
)
from tests.support.fake_google.server import ApiError, FakeGoogle, Request, Response

SCOPES_WRITE = ("https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.events")
SCOPES_READ = (*SCOPES_WRITE, "https://www.googleapis.com/auth/calendar.readonly",
               "https://www.googleapis.com/auth/calendar.events.readonly")
EVENTS = r"/calendar/v3/calendars/(?P<calendar>[^/]+)/events"
ONE = EVENTS + r"/(?P<event>[^/]+)"
# Fields only Google writes: a client's copies are ignored.
_SERVER_FIELDS = ("kind", "etag", "created", "updated", "htmlLink", "organizer", "creator", "recurringEventId",
                  "originalStartTime")
# Query parameters a sync token cannot be combined with.
_NOT_WITH_SYNC = ("timeMin", "timeMax", "orderBy", "q", "iCalUID", "updatedMin", "privateExtendedProperty",
                  "sharedExtendedProperty")
_GUARANTEED_WHEN_DELETED = ("kind", "etag", "id", "status", "updated", "recurringEventId", "originalStartTime")


@dataclass
class Stored:
    """One event as the calendar holds it: a recurring event, a single one, or an instance exception."""

    body: dict[str, Any]
    change: int  # the calendar's change number at its last write (what a sync token counts from)
    deleted: bool = False  # removed with events.delete: shown with the guaranteed fields only


@dataclass
class CalendarData:
    owner: str
    events: dict[str, Stored] = field(default_factory=dict)
    change: int = 0
    mail: list[Mailed] = field(default_factory=list)


class FakeCalendar:
    """Calendar v3 events on `/calendar/v3/calendars/{calendarId}/events...`.

    `organizer_domain` decides who is outside the Workspace for sendUpdates=externalOnly (default:
    the calendar owner's domain). Sync tokens die when older than `sync_token_max_age` on the
    fake's clock, or when a test calls `expire_sync_tokens()` / `purge_deleted()`."""

    def __init__(self, fake: FakeGoogle, *, sync_token_max_age: timedelta = timedelta(days=7)) -> None:
        self.fake = fake
        self.sync_token_max_age = sync_token_max_age
        self.calendars: dict[str, CalendarData] = {}
        self._generation = 0
        self._serial = 0
        fake.route("POST", EVENTS, self._insert, SCOPES_WRITE)
        fake.route("GET", EVENTS, self._list, SCOPES_READ)
        fake.route("GET", ONE + r"/instances", self._instances, SCOPES_READ)
        fake.route("GET", ONE, self._get, SCOPES_READ)
        fake.route("PUT", ONE, self._update, SCOPES_WRITE)
        fake.route("PATCH", ONE, self._patch, SCOPES_WRITE)
        fake.route("DELETE", ONE, self._delete, SCOPES_WRITE)

    # --- what tests read and do -------------------------------------------------------------------

    def calendar(self, calendar_id: str) -> CalendarData:
        """A calendar by its id (an owner's address: `primary` of that owner)."""
        with self.fake.lock:
            return self.calendars.setdefault(calendar_id, CalendarData(calendar_id))

    def mail(self, calendar_id: str) -> list[Mailed]:
        with self.fake.lock:
            return list(self.calendar(calendar_id).mail)

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """The stored resource (exceptions included), as Google would show it; None when never there."""
        with self.fake.lock:
            stored = self.calendar(calendar_id).events.get(event_id)
            return None if stored is None else _shown(stored)

    def expire_sync_tokens(self) -> None:
        """Every sync token given so far answers 410 from now on."""
        with self.fake.lock:
            self._generation += 1

    def purge_deleted(self, calendar_id: str) -> None:
        """Deleted events disappear for good (Google keeps them only a while); old sync tokens die with them."""
        with self.fake.lock:
            data = self.calendar(calendar_id)
            for event_id in [k for k, v in data.events.items() if v.deleted or v.body.get("status") == "cancelled"
                             and "recurringEventId" not in v.body]:
                del data.events[event_id]
            self._generation += 1

    def move_instance(self, calendar_id: str, master_id: str, original_start: datetime, start: datetime,
                      end: datetime, send_updates: str = "none") -> None:
        """A person drags one occurrence elsewhere in Google Calendar."""
        with self.fake.lock:
            data = self.calendar(calendar_id)
            event_id = instance_id(master_id, original_start)
            body = copy.deepcopy(self._instance_or_exception(data, event_id))
            tz = body["start"].get("timeZone")
            body.update(start=event_time(start, tz), end=event_time(end, tz))
            self._write(data, event_id, body, send_updates, patch=False)

    def answer(self, calendar_id: str, event_id: str, email: str, response: str,
               original_start: datetime | None = None) -> None:
        """An attendee answers (accepted, declined, tentative) the whole series, or one occurrence of it
        (`original_start`): Google then keeps that occurrence as an exception with its own answers."""
        with self.fake.lock:
            data = self.calendar(calendar_id)
            target = event_id if original_start is None else instance_id(event_id, original_start)
            body = copy.deepcopy(self._instance_or_exception(data, target) if original_start is not None
                                 else self._found(data, target).body)
            found = [a for a in body.get("attendees", []) if a["email"].lower() == email.lower()]
            if not found:
                raise KeyError(f"{email} is not invited to {target}")
            found[0]["responseStatus"] = response
            # An answer mails the organizer, not the attendees; nothing is counted.
            self._store(data, target, body)

    def cancel_event(self, calendar_id: str, event_id: str, send_updates: str = "none") -> None:
        """A person cancels an event (or one occurrence, by its instance id), keeping what it was."""
        with self.fake.lock:
            data = self.calendar(calendar_id)
            stored = data.events.get(event_id)
            body = copy.deepcopy(stored.body if stored else self._instance_or_exception(data, event_id))
            body["status"] = "cancelled"
            self._write(data, event_id, body, send_updates, patch=False)

    def delete_event(self, calendar_id: str, event_id: str, send_updates: str = "none") -> None:
        """A person deletes an event in Google Calendar."""
        with self.fake.lock:
            self._remove(self.calendar(calendar_id), event_id, send_updates)

    # --- routes -------------------------------------------------------------------------------------

    def _data(self, request: Request) -> CalendarData:
        calendar_id = unquote(request.group("calendar"))
        assert request.principal is not None
        if calendar_id == "primary":
            calendar_id = request.principal.subject
        elif calendar_id != request.principal.subject and calendar_id not in self.calendars:
            # Stricter: only the caller's own calendars and those a test made exist.
            raise ApiError(404, "notFound", "Not Found")
        return self.calendar(calendar_id)

    def _insert(self, request: Request) -> Response:
        data = self._data(request)
        body = request.json()
        send = send_updates(request)
        for name in _SERVER_FIELDS:
            body.pop(name, None)
        if "id" in body and "iCalUID" in body:
            # Stricter: the docs say to give one of them, not both.
            raise invalid("Give either id or iCalUID, not both.")
        if "id" in body:
            check_event_id(body["id"])
            if body["id"] in data.events:  # a cancelled or deleted one too: revive it with update
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
        else:
            body["id"] = self._new_id()
            if "iCalUID" in body and any(s.body.get("iCalUID") == body["iCalUID"] and "recurringEventId" not in s.body
                                         for s in data.events.values()):
                raise ApiError(409, "duplicate", "The requested identifier already exists.")
        body.setdefault("iCalUID", f"{body['id']}@google.com")
        body.setdefault("status", "confirmed")
        body.setdefault("sequence", 0)
        body["created"] = rfc3339(self.fake.now())
        self._check(body)
        data.mail += mails_for(data.owner, None, body, send, data.change + 1)
        return Response(200, _shown(self._store(data, body["id"], body)))

    def _get(self, request: Request) -> Response:
        data = self._data(request)
        event_id = unquote(request.group("event"))
        stored = data.events.get(event_id)
        if stored is not None:
            return Response(200, _shown(stored))  # cancelled and deleted ones too, as Google's get does
        return Response(200, self._instance_or_exception(data, event_id))

    def _update(self, request: Request) -> Response:
        return self._change(request, patch=False)

    def _patch(self, request: Request) -> Response:
        return self._change(request, patch=True)

    def _change(self, request: Request, *, patch: bool) -> Response:
        data = self._data(request)
        event_id = unquote(request.group("event"))
        body = request.json()
        for name in _SERVER_FIELDS:
            body.pop(name, None)
        if body.get("id", event_id) != event_id:
            raise invalid("The event id cannot be changed.")
        self._existing_or_instance(data, event_id)  # 404 for an id that never existed
        stored = self._write(data, event_id, body, send_updates(request), patch=patch)
        return Response(200, _shown(stored))

    def _delete(self, request: Request) -> Response:
        data = self._data(request)
        event_id = unquote(request.group("event"))
        stored = data.events.get(event_id)
        if stored is not None and (stored.deleted or stored.body.get("status") == "cancelled"):
            raise ApiError(410, "deleted", "Resource has been deleted")
        self._remove(data, event_id, send_updates(request))
        return Response(204, None)

    def _instances(self, request: Request) -> Response:
        data = self._data(request)
        master = self._found(data, unquote(request.group("event")))
        if master.deleted:
            raise ApiError(410, "deleted", "Resource has been deleted")
        show_deleted = request.arg("showDeleted") == "true"
        items = [item for item in self._expand(data, master.body)
                 if show_deleted or item.get("status") != "cancelled"]
        items = within(items, request.arg("timeMin"), request.arg("timeMax"))
        return self._page(request, items, data, sync=False)

    def _list(self, request: Request) -> Response:
        data = self._data(request)
        token = request.arg("syncToken")
        if token is not None:
            mixed = [name for name in _NOT_WITH_SYNC if request.arg(name) is not None]
            if mixed:
                raise invalid(f"The syncToken cannot be combined with {', '.join(mixed)}.")
            since = self._read_sync_token(token, data)
            # Deleted and cancelled events are always part of an incremental answer.
            items = [s for s in data.events.values() if s.change > since]
        else:
            show_deleted = request.arg("showDeleted") == "true"
            items = [s for s in data.events.values() if show_deleted or not _hidden(s)]
            items = self._filtered(request, items)
        if request.arg("singleEvents") == "true":
            if token is not None:
                # Stricter: the fake syncs recurring events, not their expanded instances.
                raise invalid("singleEvents cannot be combined with a syncToken in this calendar.")
            shown = [i for s in items if "recurringEventId" not in s.body
                     for i in (self._expand(data, s.body) if s.body.get("recurrence") and not s.deleted else [_shown(s)])]
            return self._page(request, within(shown, request.arg("timeMin"), request.arg("timeMax")), data, sync=False)
        items.sort(key=lambda s: (s.change, s.body["id"]))
        return self._page(request, [_shown(s, listed=True) for s in items], data, sync=True)

    # --- storage --------------------------------------------------------------------------------------

    def _write(self, data: CalendarData, event_id: str, body: dict[str, Any], send: str, *, patch: bool) -> Stored:
        """Update (or patch) an event or one instance; an instance's first change makes it an exception."""
        stored = data.events.get(event_id)
        if stored is None or (stored.deleted and "recurringEventId" in stored.body):
            stored, before = None, self._instance_or_exception(data, event_id)
        else:
            before = copy.deepcopy(stored.body)
        was_deleted = stored is not None and stored.deleted
        if patch:
            new = merged(before, body)
        else:
            new = {k: v for k, v in body.items() if k not in _SERVER_FIELDS}
            for name in ("id", "iCalUID", "created", "recurringEventId", "originalStartTime"):
                if name in before:
                    new[name] = before[name]
        new["id"] = event_id
        new.setdefault("status", "confirmed")
        current = int(before.get("sequence", 0))
        if "sequence" in body and int(body["sequence"]) < current:
            raise invalid("Invalid sequence value. The specified sequence number is below the current sequence "
                          "number of the resource.")
        if "sequence" not in body:
            new["sequence"] = current + (1 if significant(before, new) else 0)
        self._check(new)
        if "recurringEventId" not in new and (before.get("start") != new.get("start")
                                              or before.get("recurrence") != new.get("recurrence")):
            # Stricter: changing a recurring event's times or rule drops its exceptions (moved,
            # cancelled or answered occurrences) for good, as Google's "all events" edits can: a
            # client that wants them must write them again.
            for key in [k for k, s in data.events.items() if s.body.get("recurringEventId") == event_id]:
                del data.events[key]
        data.mail += mails_for(data.owner, None if was_deleted else before, new, send, data.change + 1)
        return self._store(data, event_id, new)

    def _remove(self, data: CalendarData, event_id: str, send: str) -> None:
        stored = data.events.get(event_id)
        if stored is None:
            body = self._instance_or_exception(data, event_id)
            body["status"] = "cancelled"
            data.mail += mails_for(data.owner, body | {"status": "confirmed"}, body, send, data.change + 1)
            self._store(data, event_id, body)
            return
        if "recurringEventId" in stored.body:
            # Deleting an instance cancels that occurrence: it stays as a cancelled exception.
            new = stored.body | {"status": "cancelled"}
            data.mail += mails_for(data.owner, stored.body, new, send, data.change + 1)
            self._store(data, event_id, new)
            return
        if stored.body.get("status") != "cancelled":
            data.mail += mails_for(data.owner, stored.body, stored.body | {"status": "cancelled"}, send, data.change + 1)
        stored.deleted = True
        stored.body["status"] = "cancelled"
        data.change += 1
        stored.change = data.change
        stored.body["updated"] = rfc3339(self.fake.now())

    def _store(self, data: CalendarData, event_id: str, body: dict[str, Any]) -> Stored:
        data.change += 1
        body["updated"] = rfc3339(self.fake.now())
        body["kind"] = "calendar#event"
        body["organizer"] = {"email": data.owner, "self": True}
        body["etag"] = '"' + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16] + '"'
        stored = Stored(body, data.change)
        data.events[event_id] = stored
        return stored

    def _check(self, body: dict[str, Any]) -> None:
        start = when(body.get("start"), "start")
        end = when(body.get("end"), "end")
        if end < start:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.")
        if "recurringEventId" in body:
            if body.get("recurrence"):
                raise invalid("An instance cannot have its own recurrence.")
            return
        if body.get("recurrence"):
            parse_recurrence(body["recurrence"], start, body["start"].get("timeZone"))
        for attendee in body.get("attendees", []):
            if not isinstance(attendee, dict) or "@" not in str(attendee.get("email", "")):
                raise invalid("Invalid attendee email.")
            attendee.setdefault("responseStatus", "needsAction")
        private = body.get("extendedProperties", {}).get("private", {})
        if not all(isinstance(v, str) for v in private.values()):
            raise invalid("Extended property values must be strings.")

    def _found(self, data: CalendarData, event_id: str) -> Stored:
        stored = data.events.get(event_id)
        if stored is None:
            raise ApiError(404, "notFound", "Not Found")
        return stored

    def _existing_or_instance(self, data: CalendarData, event_id: str) -> None:
        if event_id not in data.events:
            self._instance_or_exception(data, event_id)

    def _instance_or_exception(self, data: CalendarData, event_id: str) -> dict[str, Any]:
        """An instance of a recurring event by its id: its exception when it has one, else as the
        recurring event makes it. 404 for anything else."""
        stored = data.events.get(event_id)
        if stored is not None and "recurringEventId" in stored.body and not stored.deleted:
            return copy.deepcopy(stored.body)
        match = INSTANCE_ID.fullmatch(event_id)
        master = data.events.get(match.group("master")) if match else None
        if match is None or master is None or master.deleted or not master.body.get("recurrence"):
            raise ApiError(404, "notFound", "Not Found")
        start = datetime.strptime(match.group("start"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if start not in self._starts(master.body):
            raise ApiError(404, "notFound", "Not Found")
        return self._virtual(master.body, start)

    def _starts(self, master: dict[str, Any]) -> tuple[datetime, ...]:
        start = when(master["start"], "start")
        recurrence = parse_recurrence(master.get("recurrence"), start, master["start"].get("timeZone"))
        return recurrence.starts if recurrence else ()

    def _virtual(self, master: dict[str, Any], start: datetime) -> dict[str, Any]:
        tz = master["start"].get("timeZone")
        body = {k: copy.deepcopy(v) for k, v in master.items() if k not in ("recurrence", "etag")}
        body.update(id=instance_id(master["id"], start), recurringEventId=master["id"],
                    originalStartTime=event_time(start, tz), start=event_time(start, tz),
                    end=event_time(start + duration_of(master), tz))
        return body

    def _expand(self, data: CalendarData, master: dict[str, Any]) -> list[dict[str, Any]]:
        """Every instance of a recurring event, exceptions in their place (cancelled ones included)."""
        result = []
        for start in self._starts(master):
            exception = data.events.get(instance_id(master["id"], start))
            if exception is not None and not exception.deleted:
                result.append(_shown(exception))
            else:
                result.append(self._virtual(master, start) | {"status": master.get("status", "confirmed")})
        return result

    def _filtered(self, request: Request, items: list[Stored]) -> list[Stored]:
        ical_uid = request.arg("iCalUID")
        if ical_uid is not None:
            # The recurring event and its exceptions share the iCalUID: all of them are answered.
            items = [s for s in items if s.body.get("iCalUID") == ical_uid]
        for wanted in request.args("privateExtendedProperty"):
            name, _, value = wanted.partition("=")
            items = [s for s in items
                     if s.body.get("extendedProperties", {}).get("private", {}).get(name) == value]
        updated_min = request.arg("updatedMin")
        if updated_min is not None:
            items = [s for s in items if s.body.get("updated", "") >= updated_min]
        return items

    # --- paging and sync tokens ------------------------------------------------------------------------

    def _page(self, request: Request, items: list[dict[str, Any]], data: CalendarData, *, sync: bool) -> Response:
        # The page token remembers where the listing stood: changes after the first page wait for
        # the next sync token instead of shifting the pages still to come.
        max_results = int(request.arg("maxResults") or 250)
        if not 1 <= max_results <= 2500:
            raise invalid("Invalid value for maxResults.")
        page_token = request.arg("pageToken")
        state = decode(page_token, "page") if page_token else {"hw": data.change, "at": 0}
        visible = [i for i in items if not sync or int(i.get("_change", 0)) <= state["hw"]]
        size = max(1, min(max_results, self.fake.page_size))
        # Short pages happen: Google may answer fewer items although more follow.
        size = self.fake.random.randint(1, size) if size > 1 else size
        chunk = visible[state["at"]:state["at"] + size]
        body: dict[str, Any] = {"kind": "calendar#events", "summary": data.owner, "updated": rfc3339(self.fake.now()),
                                "items": [{k: v for k, v in item.items() if k != "_change"} for item in chunk]}
        following = state["at"] + len(chunk)
        if following < len(visible):
            body["nextPageToken"] = encode({"hw": state["hw"], "at": following}, "page")
        elif sync:
            body["nextSyncToken"] = encode({"cal": data.owner, "hw": state["hw"], "gen": self._generation,
                                             "at": self.fake.now().isoformat()}, "sync")
        return Response(200, body)

    def _read_sync_token(self, token: str, data: CalendarData) -> int:
        try:
            state = decode(token, "sync")
        except ApiError as error:
            raise invalid("Invalid sync token value.") from error
        issued = datetime.fromisoformat(state["at"])
        if state["cal"] != data.owner:
            raise invalid("Invalid sync token value.")
        if state["gen"] != self._generation or self.fake.now() - issued > self.sync_token_max_age:
            raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
        return int(state["hw"])

    def _new_id(self) -> str:
        self._serial += 1
        return "g" + hashlib.sha1(f"{self._serial}".encode()).hexdigest()[:20]

# --- values ---------------------------------------------------------------------------------------------


def _hidden(stored: Stored) -> bool:
    """Left out of a full listing without showDeleted: deleted and cancelled events, except cancelled
    exceptions of a recurring event (Google lists those when singleEvents is false)."""
    if stored.deleted:
        return True
    return stored.body.get("status") == "cancelled" and "recurringEventId" not in stored.body


def _shown(stored: Stored, *, listed: bool = False) -> dict[str, Any]:
    """The resource as answered; `listed` keeps its change number for the listing's paging."""
    if stored.deleted:
        # Stricter: a deleted event carries only what the docs guarantee.
        body = {k: v for k, v in stored.body.items() if k in _GUARANTEED_WHEN_DELETED}
    else:
        body = copy.deepcopy(stored.body)
    if listed:
        body["_change"] = stored.change
    return body


__all__ = ["FakeCalendar", "Mailed", "original_start_of"]
