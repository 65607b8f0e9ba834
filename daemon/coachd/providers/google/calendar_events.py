"""A booked series as Google Calendar event resources, and Google's events read back as CalendarEntry.

Pure values, no I/O: calendar.py does the calls.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

from coachd.mail.ical import canonical_rrule
from coachd.model.types import UTC, BookedSeries, Override, to_utc
from coachd.providers.base import CalendarEntry

# extendedProperties.private keys that tag coachd's events (Google's string map).
TAG, UID, KEY, KIND, TEAM = "coachd", "coachd_uid", "coachd_key", "coachd_kind", "coachd_team"
# The sequence attendees were last told of: a retried change (a lost answer, a crash between writes)
# reads it to mail nobody twice.
TOLD = "coachd_told"
# Set while a change that takes several writes (the event and its occurrences) is under way: a sync
# meanwhile must not take the half-written series for a person's edit.
WRITING = "coachd_writing"
# Ids are base32hex (a-v, 0-9), 5 to 1024 characters: "c" + the UID itself, or "h" + a digest for a
# UID too long for that. Reversible ids name the series of an event Google shows deleted (only
# its id is guaranteed then) without any local table.
_READABLE, _HASHED = "c", "h"
_MAX_ID = 1024
_MAX_STARTS = 520  # SeriesSpec's cap on an open-ended series
_PARTSTAT = {"needsAction": "NEEDS-ACTION", "accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE"}
_RESPONSE = {v: k for k, v in _PARTSTAT.items()}


def event_id(uid: str) -> str:
    """The Google event id of a series: the same for the same UID, on every retry and every replica."""
    readable = _READABLE + base64.b32hexencode(uid.encode()).decode().rstrip("=").lower()
    if 5 <= len(readable) <= _MAX_ID:
        return readable
    return _HASHED + base64.b32hexencode(hashlib.sha256(uid.encode()).digest()).decode().rstrip("=").lower()


def uid_of(event_id_: str) -> str | None:
    """The UID a readable id was made from; None for an id coachd did not make (or a hashed one)."""
    if not event_id_.startswith(_READABLE):
        return None
    text = event_id_[1:].upper()
    try:
        uid = base64.b32hexdecode(text + "=" * (-len(text) % 8)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return uid if event_id(uid) == event_id_ else None


def is_ours(event_id_: str) -> bool:
    return uid_of(event_id_) is not None or (event_id_.startswith(_HASHED) and len(event_id_) == 53)


def instance_id(master_id: str, original_start: datetime) -> str:
    """An occurrence's id: the event's id and its original start in UTC (Google's own form)."""
    return f"{master_id}_{to_utc(original_start):%Y%m%dT%H%M%SZ}"


def event_time(moment: datetime, zone: str) -> dict[str, str]:
    return {"dateTime": to_utc(moment).astimezone(ZoneInfo(zone)).isoformat(), "timeZone": zone}


def recurrence(series: BookedSeries) -> list[str]:
    """RRULE and EXDATE lines without DTSTART (Google takes the start from `start`)."""
    spec = series.spec
    rule = spec.rrule()
    if rule is None:
        return []
    lines = [f"RRULE:{rule}"]
    if spec.exdates:
        local = sorted(to_utc(d).astimezone(spec.zone) for d in spec.exdates)
        lines.append(f"EXDATE;TZID={spec.timezone}:" + ",".join(f"{d:%Y%m%dT%H%M%S}" for d in local))
    return lines


def private_of(series: BookedSeries, *, told: int | None, writing: bool) -> dict[str, str]:
    """Our tags on the event: whose it is, and the state of its last change (TOLD, WRITING)."""
    spec = series.spec
    return {TAG: "1", UID: spec.uid, KEY: spec.key, KIND: spec.kind.value, TEAM: spec.team_id or "",
            TOLD: "" if told is None else str(told), WRITING: str(series.sequence) if writing else ""}


def master_body(series: BookedSeries, *, on_event: Callable[[str], bool], responses: Mapping[str, str],
                sequence: int, told: int | None, writing: bool = False) -> dict[str, Any]:
    """The recurring (or single) event for a series. `on_event`: whether an attendee is listed on
    Google's event (those not listed are invited by coachd's own mail); `responses`: the answers
    Google holds now (lower-case email -> responseStatus), kept so that updating the series never
    resets who accepted."""
    spec = series.spec
    start = to_utc(spec.start)
    attendees = []
    for person in spec.everyone():
        email = person.email.lower()
        if not on_event(email):
            continue
        host = person.person_id == spec.host.person_id
        # The host's time was found free by coachd and the host runs the session: accepted, as in iCalendar.
        answer = responses.get(email, "accepted" if host else "needsAction")
        attendees.append({"email": person.email, "displayName": person.name, "responseStatus": answer})
    return {
        "id": event_id(spec.uid),
        "summary": spec.title,
        "description": spec.description,
        "start": event_time(start, spec.timezone),
        "end": event_time(start + spec.length, spec.timezone),
        "recurrence": recurrence(series),
        "attendees": attendees,
        "status": "cancelled" if series.cancelled else "confirmed",
        "sequence": sequence,
        "extendedProperties": {"private": private_of(series, told=told, writing=writing)},
        # Attendees answer; they do not move coachd's sessions for everyone.
        "guestsCanModify": False,
    }


def managed(body: Mapping[str, Any]) -> dict[str, Any]:
    """What coachd writes of an event, in a form that compares equal when it means the same."""
    private = body.get("extendedProperties", {}).get("private", {})
    return {
        "summary": body.get("summary", ""),
        "description": body.get("description", ""),
        "start": _instant(body.get("start")),
        "end": _instant(body.get("end")),
        "recurrence": list(body.get("recurrence") or []),
        "attendees": sorted((a["email"].lower(), a.get("displayName", ""), a.get("responseStatus", "needsAction"))
                            for a in body.get("attendees", [])),
        "status": body.get("status", "confirmed"),
        "sequence": int(body.get("sequence", 0)),
        "private": {k: private.get(k) or "" for k in (TAG, UID, KEY, KIND, TEAM, TOLD, WRITING)},
    }


def notable(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """A change attendees are told of (times, rule, title, status, who is invited), not a tag or a number."""
    a, b = managed(before), managed(after)
    return any(a[n] != b[n] for n in ("summary", "description", "start", "end", "recurrence", "status")) or \
        {e for e, *_ in a["attendees"]} != {e for e, *_ in b["attendees"]}


def told_of(body: Mapping[str, Any]) -> int | None:
    """The sequence attendees were last told of, as the event records it."""
    value = body.get("extendedProperties", {}).get("private", {}).get(TOLD)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def writing(body: Mapping[str, Any]) -> bool:
    """Whether coachd is half-way through a change of this event."""
    return bool(body.get("extendedProperties", {}).get("private", {}).get(WRITING))


def responses(body: Mapping[str, Any]) -> dict[str, str]:
    return {a["email"].lower(): a.get("responseStatus", "needsAction") for a in body.get("attendees", [])}


def wanted_overrides(series: BookedSeries) -> dict[datetime, Override]:
    """coachd's moved and cancelled occurrences that the calendar must hold, by UTC original start."""
    spec = series.spec
    if spec.every is None:
        return {}
    starts = set(spec.original_starts()) - {to_utc(d) for d in spec.exdates}
    result = {}
    for o in series.overrides:
        rid = to_utc(o.recurrence_id)
        if rid in starts and (o.cancelled or (to_utc(o.start), to_utc(o.end)) != (rid, rid + spec.length)):
            result[rid] = Override(rid, to_utc(o.start), to_utc(o.end), o.cancelled)
    return result


def exception_state(exception: Mapping[str, Any], length: timedelta) -> Override:
    """What one of Google's instance exceptions says about its occurrence. A cancelled exception is
    only guaranteed its id, recurringEventId and originalStartTime: its times default to the original."""
    rid = _instant(exception["originalStartTime"])
    assert rid is not None
    if exception.get("status") == "cancelled":
        return Override(rid, rid, rid + length, cancelled=True)
    start, end = _instant(exception.get("start")), _instant(exception.get("end"))
    return Override(rid, start or rid, end or (start or rid) + length)


def entry_of(master: Mapping[str, Any], exceptions: Iterable[Mapping[str, Any]]) -> CalendarEntry:
    """A series as Google holds it: the recurring event and its exceptions (moved, cancelled or
    answered occurrences). Exceptions for starts the rule no longer makes are ignored."""
    zone = master["start"].get("timeZone") or "UTC"
    start = _instant(master["start"])
    end = _instant(master["end"])
    assert start is not None and end is not None
    length = end - start
    lines = list(master.get("recurrence") or [])
    rule = next((line.split(":", 1)[1] for line in lines if line.upper().startswith("RRULE:")), None)
    private = master.get("extendedProperties", {}).get("private", {})
    overrides: list[Override] = []
    occurrence_attendees: dict[datetime, dict[str, str]] = {}
    starts = _original_starts(start.astimezone(ZoneInfo(zone)), rule)
    for exception in exceptions:
        state = exception_state(exception, length)
        if state.recurrence_id not in starts:
            continue  # left over from an earlier rule (Google may keep it, cancelled, after an UNTIL)
        if state.cancelled or (state.start, state.end) != (state.recurrence_id, state.recurrence_id + length):
            overrides.append(state)
        if exception.get("attendees"):
            occurrence_attendees[state.recurrence_id] = _partstats(exception)
    return CalendarEntry(
        uid=private.get(UID) or uid_of(master["id"]) or master.get("iCalUID") or master["id"],
        sequence=int(master.get("sequence", 0)),
        cancelled=master.get("status") == "cancelled",
        start=start.astimezone(ZoneInfo(zone)),
        end=end.astimezone(ZoneInfo(zone)),
        timezone=zone,
        rrule=None if rule is None else canonical_rrule(rule),
        exdates=tuple(sorted(_exdates(lines, zone))),
        overrides=tuple(sorted(overrides, key=lambda o: o.recurrence_id)),
        attendees=_partstats(master),
        occurrence_attendees=occurrence_attendees,
        key=private.get(KEY),
        kind=private.get(KIND),
        raw=dict(master),
    )


def _original_starts(start: datetime, rule: str | None) -> set[datetime]:
    """Every start the rule makes, in UTC (as far as SeriesSpec expands an open-ended series)."""
    if rule is None:
        return {to_utc(start)}
    starts = set()
    for moment in rrule.rrulestr(rule, dtstart=start, cache=False):  # type: ignore[union-attr]
        starts.add(to_utc(moment))
        if len(starts) >= _MAX_STARTS:
            break
    return starts


def tagged(body: Mapping[str, Any]) -> bool:
    """One of coachd's events with its data (a deleted event shows only its id)."""
    return body.get("extendedProperties", {}).get("private", {}).get(TAG) == "1" and "start" in body


def _partstats(body: Mapping[str, Any]) -> dict[str, str]:
    return {email: _PARTSTAT.get(status, "NEEDS-ACTION") for email, status in responses(body).items()}


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, Mapping) or "dateTime" not in value:
        return None
    moment = datetime.fromisoformat(str(value["dateTime"]))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(value.get("timeZone") or "UTC"))
    return moment.astimezone(UTC)


def _exdates(lines: list[str], zone: str) -> set[datetime]:
    result: set[datetime] = set()
    for line in lines:
        name, _, value = line.partition(":")
        if name.split(";")[0].upper() != "EXDATE":
            continue
        params = dict(p.split("=", 1) for p in name.split(";")[1:] if "=" in p)
        tz = ZoneInfo(params.get("TZID", zone))
        for text in value.split(","):
            if text.endswith("Z"):
                result.add(datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))
            else:
                result.add(to_utc(datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=tz)))
    return result


def response_status(partstat: str) -> str:
    """iCalendar's PARTSTAT as Google's responseStatus."""
    return _RESPONSE.get(partstat.upper(), "needsAction")
