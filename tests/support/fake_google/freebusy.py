"""The fake's free/busy: `POST /calendar/v3/freeBusy` (freebusy.query) as Calendar v3 documents it.

Request `{timeMin, timeMax, timeZone, items: [{id}], calendarExpansionMax, groupExpansionMax}`, answer
`{kind, timeMin, timeMax, calendars: {id: {busy: [{start, end}], errors: [{domain, reason}]}}, groups}`.
Busy times come from a per-person store (`set_busy`) and, when a calendar fake hands in `extra_busy`,
from the events a person attends (opaque, not declined), as Google derives them from their calendar.

Which calendars exist: those given to `add_person`/`set_busy`, and every address in one of `domains`
(the Workspace's domains: free/busy of colleagues is visible by default). Anyone else is outside the
Workspace: `notFound`, as Google answers for a calendar it cannot see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tests.support.fake_google.server import ApiError, FakeGoogle, Request, Response

# Any one of these lets a token ask (the discovery document's scopes of calendar.freebusy.query).
SCOPES = (
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.freebusy",
    "https://www.googleapis.com/auth/calendar.events.freebusy",
)
# calendarExpansionMax's documented maximum, and groupExpansionMax's.
MAX_CALENDARS = 50
MAX_GROUP = 100
# Stricter: Google refuses "much over" about three months (a 400 observed as `timeRangeTooLong`);
# the fake refuses anything over exactly 90 days, so a client that keeps to 90 is safe either way.
MAX_WINDOW = timedelta(days=90)

# (email, timeMin, timeMax) -> busy spans of events on that person's calendar (a calendar fake's hook).
ExtraBusy = Callable[[str, datetime, datetime], Iterable[tuple[datetime, datetime]]]


class FakeFreeBusy:
    """Registers freebusy.query on `fake`; tests set people's busy times and failures through it."""

    def __init__(self, fake: FakeGoogle, *, domains: Sequence[str] = (), extra_busy: ExtraBusy | None = None) -> None:
        self.fake = fake
        self.domains = {d.lower() for d in domains}
        self.extra_busy = extra_busy
        self._busy: dict[str, list[tuple[datetime, datetime]]] = {}
        self._people: set[str] = set()
        self._failing: dict[str, str] = {}
        self._groups: dict[str, list[str]] = {}
        fake.route("POST", r"/calendar/v3/freeBusy", self._query, scopes=SCOPES)

    # --- test hooks ------------------------------------------------------------------------------

    def add_person(self, email: str) -> None:
        """A calendar in the Workspace (free unless `set_busy` or `extra_busy` says otherwise)."""
        with self.fake.lock:
            self._people.add(email.lower())

    def set_busy(self, email: str, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        """`email`'s busy blocks (aware datetimes), replacing what was set; adds them to the Workspace."""
        spans = [(start.astimezone(UTC), end.astimezone(UTC)) for start, end in intervals]
        with self.fake.lock:
            self._people.add(email.lower())
            self._busy[email.lower()] = spans

    def fail_calendar(self, email: str, reason: str | None = "internalError") -> None:
        """Answer `reason` in `email`'s per-calendar errors from now on (None: answer normally again)."""
        with self.fake.lock:
            if reason is None:
                self._failing.pop(email.lower(), None)
            else:
                self._failing[email.lower()] = reason

    def add_group(self, email: str, members: Sequence[str]) -> None:
        """A Google group whose members' calendars a query for the group expands to."""
        with self.fake.lock:
            self._groups[email.lower()] = list(members)

    # --- the route ------------------------------------------------------------------------------

    def _query(self, request: Request) -> Response:
        body = request.json()
        start = _time(body, "timeMin")
        end = _time(body, "timeMax")
        if end <= start:
            raise ApiError(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar",
                           location="timeMax", locationType="parameter")
        if end - start > MAX_WINDOW:
            raise ApiError(400, "timeRangeTooLong", "The requested time range is too long.", domain="calendar",
                           location="timeMax", locationType="parameter")
        zone = _zone(body.get("timeZone") or "UTC")
        calendar_max = _limit(body, "calendarExpansionMax", MAX_CALENDARS)
        group_max = _limit(body, "groupExpansionMax", MAX_GROUP)
        items = body.get("items")
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
            raise ApiError(400, "required", "Required: items[].id")
        calendars: dict[str, dict[str, object]] = {}
        groups: dict[str, dict[str, object]] = {}
        asked: list[str] = []
        for item in items:
            ident = item["id"]
            members = self._groups.get(ident.lower())
            if members is None:
                asked.append(ident)
            elif len(members) > group_max:
                groups[ident] = {"errors": [{"domain": "global", "reason": "groupTooBig"}]}
            else:
                groups[ident] = {"calendars": list(members)}
                asked.extend(members)
        # Stricter: the documents list `tooManyCalendarsRequested` as a per-calendar error without saying
        # which calendars still get an answer; the fake answers none of them, so a client that asks for too
        # many learns it at once instead of silently losing the tail.
        too_many = len(dict.fromkeys(asked)) > calendar_max
        for ident in asked:
            if too_many:
                calendars[ident] = _errors("tooManyCalendarsRequested")
            else:
                calendars[ident] = self._calendar(ident, start, end, zone)
        answer: dict[str, object] = {"kind": "calendar#freeBusy", "timeMin": _format(start, zone),
                                     "timeMax": _format(end, zone), "calendars": calendars}
        if groups:
            answer["groups"] = groups
        return Response(body=answer)

    def _calendar(self, ident: str, start: datetime, end: datetime, zone: ZoneInfo) -> dict[str, object]:
        email = ident.lower()
        if email in self._failing:
            return _errors(self._failing[email])
        if not self._known(email):
            return _errors("notFound")
        spans = list(self._busy.get(email, ()))
        if self.extra_busy is not None:
            spans.extend((s.astimezone(UTC), e.astimezone(UTC)) for s, e in self.extra_busy(email, start, end))
        # Google answers what overlaps the range, cut to it, overlapping blocks joined.
        # Stricter: blocks that only touch stay apart (the client joins them if it wants to).
        clipped = sorted((max(s, start), min(e, end)) for s, e in spans if s < end and e > start)
        merged: list[list[datetime]] = []
        for s, e in clipped:
            if merged and s < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return {"busy": [{"start": _format(s, zone), "end": _format(e, zone)} for s, e in merged]}

    def _known(self, email: str) -> bool:
        return email in self._people or email.rpartition("@")[2] in self.domains


def _errors(reason: str) -> dict[str, object]:
    return {"busy": [], "errors": [{"domain": "global", "reason": reason}]}


def _time(body: dict[str, object], name: str) -> datetime:
    value = body.get(name)
    if not isinstance(value, str):
        raise ApiError(400, "required", f"Missing {name} parameter.", location=name, locationType="parameter")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise ApiError(400, "invalid", f"Invalid value for {name}: {value}") from error
    if parsed.tzinfo is None:
        # RFC 3339 requires an offset; Stricter: a time without one is refused rather than guessed.
        raise ApiError(400, "invalid", f"Invalid value for {name}: {value} (no time zone offset)")
    return parsed.astimezone(UTC)


def _limit(body: dict[str, object], name: str, most: int) -> int:
    value = body.get(name)
    if value is None:
        return most
    if not isinstance(value, int) or not 1 <= value <= most:
        raise ApiError(400, "invalid", f"Invalid value for {name}: {value} (at most {most})")
    return value


def _zone(name: object) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as error:
        # Stricter: an unknown zone is refused rather than answered in UTC.
        raise ApiError(400, "invalid", f"Invalid time zone: {name}") from error


def _format(when: datetime, zone: ZoneInfo) -> str:
    local = when.astimezone(zone)
    if local.utcoffset() == timedelta(0) and zone.key in ("UTC", "Etc/UTC"):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")


__all__ = ["MAX_CALENDARS", "MAX_WINDOW", "SCOPES", "ExtraBusy", "FakeFreeBusy"]
