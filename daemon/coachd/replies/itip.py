"""Meeting responses (iTIP METHOD:REPLY) carried in an email: who accepted, declined or is tentative, for what."""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from email.message import Message
from typing import Any

import icalendar

from coachd.replies import mime as reply_mime
from coachd.model.types import UTC

_MAX_CALENDAR = 256_000  # characters of one calendar part; a meeting response is a few kilobytes
_MAX_RESPONSES = 200
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[A-Za-z0-9.-]{1,253}$")
_PARTSTAT = re.compile(r"^[A-Z][A-Z-]{0,30}$")


def itip_reply(message: Message) -> list[dict[str, Any]]:
    """[{"uid", "recurrence_id" (UTC ISO or None), "attendee", "partstat"}] from every METHOD:REPLY calendar."""
    try:
        found: list[dict[str, Any]] = []
        for leaf in reply_mime.walk(message):
            if _is_calendar(leaf):
                for response in _responses(leaf):
                    if response not in found and len(found) < _MAX_RESPONSES:
                        found.append(response)  # Google sends the same calendar inline and as invite.ics
        return found
    except Exception:  # a hostile calendar must cost us the response, never the inbox
        return []


def _is_calendar(leaf: reply_mime.Leaf) -> bool:
    return leaf.content_type in ("text/calendar", "application/ics") or leaf.filename.lower().endswith(".ics")


def _responses(leaf: reply_mime.Leaf) -> list[dict[str, Any]]:
    text = reply_mime.decode(leaf.payload(_MAX_CALENDAR), leaf.params.get("charset") or "utf-8")
    try:
        calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception:  # icalendar raises ValueError, IndexError, KeyError... on broken input
        return []
    responses: list[dict[str, Any]] = []
    for calendar in calendars:
        # The Content-Type's method= stands in for the rare client that leaves METHOD out of the calendar.
        if str(calendar.get("METHOD", leaf.params.get("method", ""))).strip().upper() != "REPLY":
            continue
        for event in calendar.walk("VEVENT"):
            responses.extend(_event_responses(event))
    return responses


def _event_responses(event: icalendar.cal.Component) -> list[dict[str, Any]]:
    uid = str(event.get("UID", "")).strip()
    if not uid or len(uid) > 1000 or not uid.isprintable():  # it becomes part of keys and log lines
        return []
    recurrence_id = _utc_iso(event, "RECURRENCE-ID")
    if recurrence_id is None and "RECURRENCE-ID" in event:
        return []  # an occurrence it cannot read is not an answer about the whole series
    attendees = event.get("ATTENDEE")
    if attendees is None:
        return []
    responses = []
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = str(attendee).strip()
        address = (address[7:] if address.lower().startswith("mailto:") else address).strip().lower()
        partstat = str(getattr(attendee, "params", {}).get("PARTSTAT", "NEEDS-ACTION")).strip().upper()
        if _EMAIL.match(address) and _PARTSTAT.match(partstat):
            responses.append({"uid": uid, "recurrence_id": recurrence_id, "attendee": address, "partstat": partstat})
    return responses


def _utc_iso(event: icalendar.cal.Component, name: str) -> str | None:
    """A date-time property in UTC ISO form; floating times are read in the event's own zone (else UTC)."""
    try:
        value = getattr(event.get(name), "dt", None)
        start = getattr(event.get("DTSTART"), "dt", None)
    except Exception:  # vBroken values raise on access
        return None
    if isinstance(value, datetime):
        zone: tzinfo = start.tzinfo if isinstance(start, datetime) and start.tzinfo else UTC
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()  # an all-day occurrence has no time to convert
    return None
