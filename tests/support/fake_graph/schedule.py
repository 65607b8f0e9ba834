"""The fake's free/busy: `POST /v1.0/users/{id}/calendar/getSchedule` (and /me/...) as Graph v1.0 documents it.

Request `{schedules: [smtp], startTime: {dateTime, timeZone}, endTime: {...}, availabilityViewInterval}`,
answer `{value: [scheduleInformation]}`, one per address asked, in the order asked: `scheduleId`,
`availabilityView` (one digit a slot: 0 free or working elsewhere, 1 tentative, 2 busy, 3 away),
`scheduleItems` (`status`, `start`/`end` as dateTimeTimeZone in the zone of `Prefer: outlook.timezone`,
UTC without it), `workingHours`; or `error` ({message, responseCode}) for someone Graph cannot read.

Who has a schedule: every mailbox of the caller's tenant (`FakeGraph.add_mailbox`, as the identity
platform's users are), and anyone given to `add_person`/`set_items`. Anyone else is outside the
tenant: the error Graph answers for an address it cannot resolve (responseCode 5009, as seen in
microsoft-graph-docs #11225). Items come from a per-person store (`set_items`) and, when a calendar
fake hands in `extra_items`, from the events a person attends.

Limits (answered 400, as Graph does, with the whole request refused):
- Stricter: at most 20 schedules a call, the number Graph's documents give, where the service is seen
  to refuse only over 100; either way the answer is ErrorMailboxDataArrayTooBig, and a client that keeps
  to 20 passes both.
- a window over 62 days: ErrorTimeIntervalTooBig; availabilityViewInterval from 5 to 1440 minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coachd.providers.microsoft.zones import accepted_by_graph, from_graph, iana_zone
from tests.support.fake_graph.server import API, FakeGraph, GraphError, Request, Response

# Any one of these lets a token ask (getSchedule's permissions, delegated and application alike).
PERMISSIONS = ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite")
MAX_SCHEDULES = 20
MAX_WINDOW = timedelta(days=62)
MIN_INTERVAL, MAX_INTERVAL, DEFAULT_INTERVAL = 5, 1440, 30
# freeBusyStatus values and their digit in availabilityView (working elsewhere shows as free there).
STATUSES = {"free": "0", "workingElsewhere": "0", "tentative": "1", "busy": "2", "oof": "3", "unknown": "0"}
NOT_FOUND_CODE = "5009"
DEFAULT_WORKING_HOURS: dict[str, Any] = {
    "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
    "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000", "timeZone": {"name": "UTC"}}


@dataclass(frozen=True)
class Item:
    """One event on a person's calendar as getSchedule shows it (aware start and end)."""

    start: datetime
    end: datetime
    status: str = "busy"
    subject: str = ""


@dataclass(frozen=True)
class Asked:
    """One getSchedule call the fake answered: whose, who was asked for, over which window (UTC)."""

    mailbox: str
    schedules: tuple[str, ...]
    start: datetime
    end: datetime


# (email, start, end) -> items of the events on that person's calendar (a calendar fake's hook).
ExtraItems = Callable[[str, datetime, datetime], Iterable[Item]]


class FakeSchedule:
    """Registers getSchedule on `fake`; tests set people's items, working hours and failures through it."""

    def __init__(self, fake: FakeGraph, *, extra_items: ExtraItems | None = None,
                 max_schedules: int = MAX_SCHEDULES) -> None:
        self.fake = fake
        self.extra_items = extra_items
        self.max_schedules = max_schedules
        self.asked: list[Asked] = []
        self._items: dict[str, list[Item]] = {}
        self._people: set[str] = set()
        self._failing: dict[str, tuple[str, str]] = {}
        self._hours: dict[str, dict[str, Any]] = {}
        pattern = r"/calendar/[gG]et[sS]chedule"
        fake.route("POST", API.replace(".", r"\.") + r"/users/(?P<mailbox>[^/]+)" + pattern, self._query,
                   permissions=PERMISSIONS)
        fake.route("POST", API.replace(".", r"\.") + r"/(?P<mailbox>me)" + pattern, self._query,
                   permissions=PERMISSIONS)

    # --- test hooks ------------------------------------------------------------------------------

    def add_person(self, email: str) -> None:
        """Someone whose schedule Graph can read (free unless `set_items` or `extra_items` says otherwise)."""
        with self.fake.lock:
            self._people.add(email.lower())

    def set_items(self, email: str, items: Iterable[Item | tuple[datetime, datetime]]) -> None:
        """`email`'s calendar items (a (start, end) pair is a busy item), replacing what was set."""
        found = [i if isinstance(i, Item) else Item(i[0], i[1]) for i in items]
        for item in found:
            if item.status not in STATUSES:
                raise ValueError(f"not a freeBusyStatus: {item.status!r}")
        with self.fake.lock:
            self._people.add(email.lower())
            self._items[email.lower()] = found

    def set_working_hours(self, email: str, hours: dict[str, Any]) -> None:
        with self.fake.lock:
            self._hours[email.lower()] = hours

    def fail_person(self, email: str, code: str | None = "ErrorFreeBusyGenerationFailed",
                    message: str = "The free/busy information could not be generated.") -> None:
        """Answer an `error` for `email`'s schedule from now on (code None: answer normally again)."""
        with self.fake.lock:
            if code is None:
                self._failing.pop(email.lower(), None)
            else:
                self._failing[email.lower()] = (code, message)

    def calls(self) -> list[Asked]:
        with self.fake.lock:
            return list(self.asked)

    # --- the route ------------------------------------------------------------------------------

    def _query(self, request: Request) -> Response:
        # OData parameter names are case-insensitive: Graph's own example writes Schedules, StartTime.
        body = {str(k).lower(): v for k, v in (request.json() or {}).items()}
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules or not all(isinstance(s, str) and s for s in schedules):
            # Stricter: an empty or missing list is refused rather than answered with nothing.
            raise GraphError(400, "ErrorInvalidParameter", "The schedules parameter must list at least one address.")
        if len(schedules) > self.max_schedules:
            raise GraphError(400, "ErrorMailboxDataArrayTooBig",
                             f"Too many mailboxes in the request: {len(schedules)}; at most {self.max_schedules}.")
        start = _time(body, "starttime")
        end = _time(body, "endtime")
        if end <= start:
            raise GraphError(400, "ErrorInvalidTimeInterval", "The end time must be after the start time.")
        if end - start > MAX_WINDOW:
            raise GraphError(400, "ErrorTimeIntervalTooBig",
                             f"The time interval is too long: at most {MAX_WINDOW.days} days.")
        interval = _interval(body.get("availabilityviewinterval", DEFAULT_INTERVAL))
        zone_name = request.prefers().get("outlook.timezone") or "UTC"
        if not accepted_by_graph(zone_name):
            raise GraphError(400, "TimeZoneNotSupportedException",
                             f"A valid TimeZone value must be specified. The following TimeZone value is not "
                             f"supported: '{zone_name}'.")
        caller = request.principal.tenant if request.principal is not None else None
        self.asked.append(Asked(request.mailbox or "", tuple(schedules), start, end))
        value = [self._schedule(email, start, end, interval, zone_name, caller) for email in schedules]
        context = f"{self.fake.base_url}{API}/$metadata#Collection(microsoft.graph.scheduleInformation)"
        return Response(body={"@odata.context": context, "value": value})

    def _schedule(self, email: str, start: datetime, end: datetime, interval: int, zone_name: str,
                  tenant: str | None) -> dict[str, Any]:
        key = email.lower()
        if key in self._failing:
            code, message = self._failing[key]
            return {"scheduleId": email, "error": {"message": message, "responseCode": code}}
        if key not in self._people and (tenant is None or self.fake.mailboxes.get(key) != tenant):
            return {"scheduleId": email, "error": {
                "message": f"Unable to resolve e-mail address {email} to an Active Directory object.",
                "responseCode": NOT_FOUND_CODE}}
        items = list(self._items.get(key, ()))
        if self.extra_items is not None:
            items.extend(self.extra_items(key, start, end))
        # Graph answers the items that overlap the window, whole. Stricter: never cut to the window (the
        # client cuts), and free items are listed too (the client leaves them out).
        shown = sorted((i for i in items if i.start.astimezone(UTC) < end and i.end.astimezone(UTC) > start),
                       key=lambda i: (i.start.astimezone(UTC), i.end.astimezone(UTC)))
        return {"scheduleId": email, "availabilityView": _view(shown, start, end, interval),
                "scheduleItems": [_item(i, zone_name) for i in shown],
                "workingHours": self._hours.get(key, DEFAULT_WORKING_HOURS)}


def _item(item: Item, zone_name: str) -> dict[str, Any]:
    return {"isPrivate": False, "status": item.status, "subject": item.subject, "location": "",
            "start": _graph_time(item.start, zone_name), "end": _graph_time(item.end, zone_name)}


def _graph_time(moment: datetime, zone_name: str) -> dict[str, str]:
    # Graph writes seven fractional digits and the zone's name as the Prefer header gave it.
    local = moment.astimezone(_zone_of(zone_name))
    return {"dateTime": local.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}


def _zone_of(zone_name: str) -> ZoneInfo:
    return ZoneInfo(iana_zone(zone_name))


def _view(items: Sequence[Item], start: datetime, end: datetime, interval: int) -> str:
    step = timedelta(minutes=interval)
    slots = math.ceil((end - start) / step)
    digits = []
    for n in range(slots):
        slot_start, slot_end = start + n * step, min(start + (n + 1) * step, end)
        codes = [STATUSES[i.status] for i in items if i.start < slot_end and i.end > slot_start]
        digits.append(max(codes, default="0"))
    return "".join(digits)


def _time(body: dict[str, Any], name: str) -> datetime:
    value = body.get(name)
    if not isinstance(value, dict):
        raise GraphError(400, "ErrorInvalidParameter", f"The {name} parameter is required.")
    fields = {str(k).lower(): v for k, v in value.items()}
    zone = fields.get("timezone")
    if not isinstance(zone, str) or not accepted_by_graph(zone):
        raise GraphError(400, "TimeZoneNotSupportedException",
                         f"A valid TimeZone value must be specified. The following TimeZone value is not "
                         f"supported: '{zone}'.")
    try:
        return from_graph({"dateTime": str(fields.get("datetime")), "timeZone": zone}).astimezone(UTC)
    except ValueError as error:
        raise GraphError(400, "ErrorInvalidParameter", f"Invalid {name}: {error}") from error


def _interval(value: object) -> int:
    # Graph's own example sends the number as a string ("15"); a null answers 500 there
    # (microsoft-graph-docs #4494). Stricter: anything but 5..1440 minutes is a 400.
    try:
        minutes = int(str(value))
    except ValueError:
        minutes = 0
    if not MIN_INTERVAL <= minutes <= MAX_INTERVAL:
        raise GraphError(400, "ErrorInvalidParameter",
                         f"availabilityViewInterval must be from {MIN_INTERVAL} to {MAX_INTERVAL} minutes.")
    return minutes


__all__ = ["DEFAULT_WORKING_HOURS", "MAX_SCHEDULES", "MAX_WINDOW", "NOT_FOUND_CODE", "PERMISSIONS", "Asked",
           "ExtraItems", "FakeSchedule", "Item"]
