"""RFC 5545 / 5546 calendar objects for booked series, and reading them back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import icalendar

from coachd.model.types import UTC, Attendee, BookedSeries, Override, to_utc

DEFAULT_PRODID = "-//coachd//coachd 0.1//EN"
METHODS = (None, "REQUEST", "CANCEL")


class CalendarParseError(ValueError):
    """The bytes are not a calendar coachd can read back (broken syntax, no master event, ...)."""


@dataclass(frozen=True)
class ParsedEvent:
    """One UID's worth of VEVENTs as found in a calendar: the master plus its overrides.

    Datetimes are aware: `start`/`end` in the series zone, `exdates` and the
    overrides in UTC (the same normal form as `SeriesSpec.occurrences`).
    """

    uid: str
    sequence: int
    start: datetime
    end: datetime
    timezone: str
    rrule: str | None
    exdates: tuple[datetime, ...]
    overrides: tuple[Override, ...]
    attendees: dict[str, str] = field(default_factory=dict)  # lower-case email -> PARTSTAT
    # Per occurrence (UTC RECURRENCE-ID) that has its own VEVENT: lower-case email -> PARTSTAT there.
    occurrence_attendees: dict[datetime, dict[str, str]] = field(default_factory=dict)
    cancelled: bool = False
    summary: str = ""
    kind: str | None = None
    key: str | None = None
    organizer: str | None = None


def canonical_rrule(rule: str) -> str:
    """The RRULE in icalendar's canonical part order, so rules can be compared as text."""
    return icalendar.vRecur.from_ical(rule).to_ical().decode()


def series_calendar(
    series: BookedSeries,
    *,
    organizer_name: str,
    organizer_email: str,
    method: str | None = None,
    prodid: str = DEFAULT_PRODID,
    dtstamp: datetime,
) -> bytes:
    """The whole series as one VCALENDAR: master VEVENT, one VEVENT per override, VTIMEZONE."""
    _check_method(method)
    spec = series.spec
    cancel = method == "CANCEL" or series.cancelled
    organizer = (organizer_name, organizer_email, to_utc(dtstamp))
    master = _event(series, organizer, cancelled=cancel)
    master.add("dtstart", _local(spec.start, spec.zone))
    master.add("dtend", _local(to_utc(spec.start) + spec.length, spec.zone))
    rule = spec.rrule()
    if rule is not None:
        master.add("rrule", icalendar.vRecur.from_ical(rule))
        if spec.exdates:
            master.add("exdate", [_local(d, spec.zone) for d in sorted(spec.exdates, key=to_utc)])
    overrides = sorted(series.overrides, key=lambda o: to_utc(o.recurrence_id))
    events = [master] + [_event(series, organizer, cancelled=cancel or o.cancelled, override=o) for o in overrides]
    return _calendar(events, method, prodid, _tz_span(series))


def occurrence_calendar(
    series: BookedSeries,
    occurrence_rid: datetime,
    method: str,
    *,
    organizer_name: str,
    organizer_email: str,
    prodid: str = DEFAULT_PRODID,
    dtstamp: datetime,
) -> bytes:
    """An iTIP message about one occurrence (RECURRENCE-ID): its new time (REQUEST) or its cancellation (CANCEL).

    Raises ValueError for a single (non-recurring) series or a RECURRENCE-ID that is not one of its original starts.
    """
    _check_method(method)
    if method is None:
        raise ValueError("an occurrence message needs METHOD:REQUEST or METHOD:CANCEL")
    spec = series.spec
    rid = to_utc(occurrence_rid)
    if spec.every is None:
        raise ValueError(f"{spec.uid} is a single event: update the whole series instead")
    if rid not in spec.original_starts():
        raise ValueError(f"{rid.isoformat()} is not an original start of series {spec.uid}")
    found = [o for o in series.overrides if to_utc(o.recurrence_id) == rid]
    override = found[0] if found else Override(rid, rid, rid + spec.length)
    cancel = method == "CANCEL" or series.cancelled or override.cancelled
    event = _event(series, (organizer_name, organizer_email, to_utc(dtstamp)), cancelled=cancel, override=override)
    return _calendar([event], method, prodid, _tz_span(series))


def _event(
    series: BookedSeries, organizer: tuple[str, str, datetime], *, cancelled: bool, override: Override | None = None
) -> icalendar.Event:
    """A VEVENT with what every event of the series shares; with `override`, that occurrence's times."""
    spec = series.spec
    name, address, dtstamp = organizer
    ev = icalendar.Event()
    ev.add("uid", spec.uid)
    ev.add("dtstamp", dtstamp)
    ev.add("sequence", series.sequence)
    ev.add("summary", spec.title)
    if spec.description:
        ev.add("description", spec.description)
    ev.add("organizer", icalendar.vCalAddress(f"mailto:{address}", params={"CN": name}))
    for person in spec.everyone():
        ev.add("attendee", _attendee(person, host=person.person_id == spec.host.person_id))
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    ev.add("x-coachd-kind", spec.kind.value)
    ev.add("x-coachd-key", spec.key)
    if spec.team_id:
        ev.add("x-coachd-team", spec.team_id)
    if override is not None:
        ev.add("recurrence-id", _local(override.recurrence_id, spec.zone))
        ev.add("dtstart", _local(override.start, spec.zone))
        ev.add("dtend", _local(override.end, spec.zone))
    return ev


def _attendee(person: Attendee, *, host: bool) -> icalendar.vCalAddress:
    # The host's time was found free by coachd and the host runs the session: no answer is awaited.
    params = {"CN": person.name, "ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED" if host else "NEEDS-ACTION"}
    return icalendar.vCalAddress(f"mailto:{person.email}", params={**params, "RSVP": "FALSE" if host else "TRUE"})


def _calendar(events: Iterable[icalendar.Event], method: str | None, prodid: str, span: tuple[date, date]) -> bytes:
    # Calendar.new() would add a random UID; the output must be byte-for-byte deterministic.
    cal = icalendar.Calendar()
    cal.add("prodid", prodid)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    for ev in events:
        cal.add_component(ev)
    cal.add_missing_timezones(first_date=span[0], last_date=span[1])
    return cal.to_ical()


def _tz_span(series: BookedSeries) -> tuple[date, date]:
    """Years the VTIMEZONE must describe: every date the series can touch, with margin."""
    spec = series.spec
    moments = [spec.start, *spec.exdates]
    moments += [m for o in series.overrides for m in (o.recurrence_id, o.start, o.end)]
    # An open-ended series is capped at 520 occurrences by SeriesSpec; cover that reach.
    moments.append(spec.until if spec.until is not None else spec.start + (spec.every or timedelta(0)) * 520)
    years = [to_utc(m).year for m in moments]
    return date(min(years) - 1, 1, 1), date(max(years) + 2, 1, 1)


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return to_utc(value).astimezone(zone)


def _check_method(method: str | None) -> None:
    if method not in METHODS:
        raise ValueError(f"unsupported METHOD {method!r}: use None, 'REQUEST' or 'CANCEL'")


# --- reading back -----------------------------------------------------------------------------


def parse_series_calendar(data: bytes) -> list[ParsedEvent]:
    """Every event (grouped by UID) in a calendar, in file order; raises CalendarParseError."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarParseError(f"not an iCalendar object: {exc}") from exc
    groups: dict[str, list[icalendar.Event]] = {}
    for ev in cal.walk("VEVENT"):
        uid = str(ev.get("UID", "")).strip()
        if not uid:
            raise CalendarParseError("a VEVENT has no UID")
        groups.setdefault(uid, []).append(ev)
    parsed = []
    for uid, group in groups.items():
        try:
            parsed.append(_parse_group(uid, group))
        except CalendarParseError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:  # icalendar's broken values among them
            raise CalendarParseError(f"{uid}: {exc}") from exc
    return parsed


def _parse_group(uid: str, events: list[icalendar.Event]) -> ParsedEvent:
    masters = [ev for ev in events if "RECURRENCE-ID" not in ev]
    if len(masters) != 1:
        raise CalendarParseError(f"{uid}: expected one master VEVENT, found {len(masters)}")
    master = masters[0]
    start = _when(master, "DTSTART", uid, None)
    zone = start.tzinfo
    end = _end(master, start, uid)
    rrule = master.get("RRULE")
    overrides = []
    occurrence_attendees = {}
    for ev in (ev for ev in events if "RECURRENCE-ID" in ev):
        moved = _when(ev, "DTSTART", uid, zone)
        rid = _when(ev, "RECURRENCE-ID", uid, zone)
        overrides.append(Override(to_utc(rid), to_utc(moved), to_utc(_end(ev, moved, uid)), _cancelled(ev)))
        occurrence_attendees[to_utc(rid)] = _partstats(ev)
    return ParsedEvent(
        uid=uid,
        sequence=int(master.get("SEQUENCE", 0)),
        start=start,
        end=end,
        timezone=_zone_name(master, start),
        rrule=None if rrule is None else _rrule_text(rrule, uid),
        exdates=_exdates(master, uid, zone),
        overrides=tuple(sorted(overrides, key=lambda o: o.recurrence_id)),
        attendees=_partstats(master),
        occurrence_attendees=occurrence_attendees,
        cancelled=_cancelled(master),
        summary=str(master.get("SUMMARY", "")),
        kind=None if master.get("X-COACHD-KIND") is None else str(master["X-COACHD-KIND"]),
        key=None if master.get("X-COACHD-KEY") is None else str(master["X-COACHD-KEY"]),
        organizer=_email(master.get("ORGANIZER")),
    )


def _when(ev: icalendar.Event, name: str, uid: str, zone: tzinfo | None) -> datetime:
    try:
        value = getattr(ev.get(name), "dt", None)
    except ValueError:  # icalendar keeps unparsable values as vBroken, which raise on access
        value = None
    if isinstance(value, datetime):
        # Floating times in a hand-edited file mean the series' own zone (or UTC for the master).
        return value if value.tzinfo is not None else value.replace(tzinfo=zone or UTC)
    if isinstance(value, date):
        raise CalendarParseError(f"{uid}: {name} is a date ({value}); coachd series are timed events")
    raise CalendarParseError(f"{uid}: missing or unreadable {name}")


def _end(ev: icalendar.Event, start: datetime, uid: str) -> datetime:
    if "DTEND" in ev:
        return _when(ev, "DTEND", uid, start.tzinfo)
    duration = getattr(ev.get("DURATION"), "dt", None)
    return start + duration if isinstance(duration, timedelta) else start


def _exdates(master: icalendar.Event, uid: str, zone: tzinfo | None) -> tuple[datetime, ...]:
    result: set[datetime] = set()
    for prop in _all(master, "EXDATE"):
        for item in getattr(prop, "dts", []):
            value = item.dt
            if not isinstance(value, datetime):
                raise CalendarParseError(f"{uid}: EXDATE {value} is a date, not a date-time")
            result.add(to_utc(value if value.tzinfo else value.replace(tzinfo=zone or UTC)))
    return tuple(sorted(result))


def _partstats(master: icalendar.Event) -> dict[str, str]:
    result: dict[str, str] = {}
    for prop in _all(master, "ATTENDEE"):
        email = _email(prop)
        if email:
            result[email] = str(prop.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return result


def _email(prop: object) -> str | None:
    if prop is None:
        return None
    text = str(prop).strip()
    return (text[7:] if text.lower().startswith("mailto:") else text).lower() or None


def _zone_name(master: icalendar.Event, start: datetime) -> str:
    # A zone icalendar could not map to IANA keeps its TZID (Outlook's Windows names, say).
    return getattr(start.tzinfo, "key", None) or str(master["DTSTART"].params.get("TZID") or "UTC")


def _rrule_text(prop: object, uid: str) -> str:
    if not isinstance(prop, icalendar.vRecur):
        raise CalendarParseError(f"{uid}: one readable RRULE expected, found {prop!r}")
    return prop.to_ical().decode()


def _all(ev: icalendar.Event, name: str) -> list:
    props = ev.get(name, [])
    return props if isinstance(props, list) else [props]


def _cancelled(ev: icalendar.Event) -> bool:
    return str(ev.get("STATUS", "")).upper() == "CANCELLED"
