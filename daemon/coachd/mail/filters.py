"""Jinja filters that show instants in a reader's own zone, with the zone's abbreviation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from coachd.model.types import require_aware

# Fixed English names: strftime's %a/%b follow the process locale, and a
# daemon's mail must not change language with the host's LANG.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DASH = "\u2013"

_KIND_LABELS = {
    "kickoff": "kickoff",
    "group": "group session",
    "individual": "one-to-one",
    "circle": "coaches' circle",
    "sponsor_review": "sponsor review",
    "wrapup": "wrap-up",
}

_ABOUT = {
    "kickoff": "The kickoff sets the program's goals, its ground rules and its calendar.",
    "group": "The team reports progress on goals, commits to actions for the next session"
    " and works through members' issues together.",
    "individual": "A private one-to-one: what you discuss stays between coach and coachee.",
    "circle": "Coaches meet among themselves to exchange what works across teams.",
    "sponsor_review": "A review of participation, outcomes against the goals agreed at the start, and impact.",
    "wrapup": "The formal close of the program: what worked, what you learned, what you will change.",
}


def _in_zone(value: datetime, tz_name: str) -> datetime:
    return require_aware(value, "time shown in an email").astimezone(ZoneInfo(tz_name))


def zone_abbreviation(value: datetime) -> str:
    """CST, IST, CET... ; zones without a letter abbreviation (tzdata writes "-03") get "UTC-03"."""
    name = value.tzname() or ""
    if name and name[0] not in "+-":
        return name
    offset = value.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes_total = abs(int(offset.total_seconds())) // 60
    hours, mins = divmod(minutes_total, 60)
    return f"UTC{sign}{hours:02d}" + (f":{mins:02d}" if mins else "")


def _day(value: date, with_year: bool = True) -> str:
    text = f"{_DAYS[value.weekday()]} {value.day} {MONTHS[value.month - 1]}"
    return f"{text} {value.year}" if with_year else text


def _clock(value: datetime) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def minutes(length: timedelta) -> str:
    """A session length as readers say it: "60 min"."""
    return f"{int(length.total_seconds() // 60)} min"


def local(value: datetime, tz_name: str) -> str:
    """One instant: "Mon 11 Jan 2027, 09:00 CST"."""
    moment = _in_zone(value, tz_name)
    return f"{_day(moment.date())}, {_clock(moment)} {zone_abbreviation(moment)}"


def localdate(value: date | datetime, tz_name: str | None = None) -> str:
    """A calendar day: "Mon 11 Jan 2027"; an aware datetime is first moved into tz_name."""
    if isinstance(value, datetime):
        value = _in_zone(value, tz_name) if tz_name else require_aware(value)
        return _day(value.date())
    return _day(value)


def localtimes(start: datetime, end: datetime, tz_name: str, reader_tz: str | None = None) -> str:
    """Only the clock times in tz_name, "16:00–17:00 CET"; prefixed with the day when that
    day differs from the reader's, so "= Tue 12 Jan, 00:30–01:30" is not misread as Monday."""
    first, last = _in_zone(start, tz_name), _in_zone(end, tz_name)
    text = _span(first, last, with_year=False, force_day=False)
    if reader_tz is not None and _in_zone(start, reader_tz).date() != first.date():
        text = f"{_day(first.date(), with_year=False)}, {text}"
    return text


def localrange(start: datetime, end: datetime, tz_name: str) -> str:
    """A session's time contract: "Mon 11 Jan 2027, 09:00–10:00 CST (60 min)"."""
    first, last = _in_zone(start, tz_name), _in_zone(end, tz_name)
    return f"{_span(first, last, with_year=True, force_day=True)} ({minutes(end - start)})"


def _span(first: datetime, last: datetime, *, with_year: bool, force_day: bool) -> str:
    start_abbr, end_abbr = zone_abbreviation(first), zone_abbreviation(last)
    prefix = f"{_day(first.date(), with_year)}, " if force_day else ""
    if first.date() != last.date():
        # Crossing midnight: name both days rather than leave "23:30–00:30" ambiguous.
        return f"{prefix}{_clock(first)} {start_abbr} {_DASH} {_day(last.date(), with_year)}, {_clock(last)} {end_abbr}"
    if start_abbr != end_abbr:
        # A DST change inside the session: each end keeps its own abbreviation.
        return f"{prefix}{_clock(first)} {start_abbr} {_DASH} {_clock(last)} {end_abbr}"
    return f"{prefix}{_clock(first)}{_DASH}{_clock(last)} {start_abbr}"


def isodate(value: datetime, tz_name: str, plus_days: int = 0) -> str:
    """The ISO day (2027-01-20) in tz_name, optionally some days later: reply examples use it."""
    return (_in_zone(value, tz_name).date() + timedelta(days=plus_days)).isoformat()


def _field(value: Any, name: str) -> Any:
    """Contexts hold dicts or objects (an Attendee); read either."""
    return value[name] if isinstance(value, Mapping) else getattr(value, name)


def when(start: datetime, end: datetime, host: Any, reader: Any) -> str:
    """The reader's time contract, plus the host's clock where it reads differently:
    "Mon 11 Jan 2027, 20:30–21:30 IST (60 min) = 16:00–17:00 CET for Lena Große".

    A filter rather than a macro so its output is a plain string: the HTML side escapes
    the host's name like any other value."""
    text = localrange(start, end, _field(reader, "timezone"))
    if _field(host, "email") == _field(reader, "email"):
        return text
    theirs = localtimes(start, end, _field(host, "timezone"), _field(reader, "timezone"))
    if theirs == localtimes(start, end, _field(reader, "timezone")):
        return text
    return f"{text} = {theirs} for {_field(host, 'name')}"


def session_when(session: Any, reader: Any) -> str:
    return when(_field(session, "start"), _field(session, "end"), _field(session, "host"), reader)


def names(people: Iterable[Any], *excluded: Any) -> str:
    """"Zoë Müller, Priya Raghunathan", leaving out the given people (by email)."""
    skip = {_field(person, "email") for person in excluded}
    return ", ".join(_field(p, "name") for p in people if _field(p, "email") not in skip)


def about(kind: Any) -> str:
    """One sentence on what a kind of session is for."""
    return _ABOUT.get(str(getattr(kind, "value", kind)), "A session of the program.")


def percent(value: float | None) -> str:
    return "not recorded" if value is None else f"{round(value * 100)}%"


def change(delta: float | None, kind: str = "rate", since: str = "the last digest") -> str:
    """A change since an earlier period: "up 5 points since the last digest", "down 0.3 ..."; "" when
    there is nothing to compare."""
    if delta is None:
        return ""
    amount = round(delta * 100) if kind == "rate" else round(delta, 1)
    if not amount:
        return f"no change since {since}"
    unit = " points" if kind == "rate" else ""
    return f"{'up' if amount > 0 else 'down'} {abs(amount)}{unit} since {since}"


def number(value: float | None) -> str:
    """A measured value as people write it, to one decimal: 24, 24.5; "not measured" for None."""
    if value is None:
        return "not measured"
    return f"{value:.1f}".rstrip("0").rstrip(".")


def session_kind(value: Any) -> str:
    """A SessionKind (enum or its string) as words: "one-to-one", "coaches' circle"."""
    raw = str(getattr(value, "value", value))
    return _KIND_LABELS.get(raw, raw.replace("_", " "))


def cadence(weeks: int | None) -> str:
    if weeks is None:
        return "once"
    return "every week" if weeks == 1 else f"every {weeks} weeks"


FILTERS: dict[str, Callable[..., str]] = {
    "local": local,
    "localrange": localrange,
    "localtimes": localtimes,
    "localdate": localdate,
    "minutes": minutes,
    "isodate": isodate,
    "session_kind": session_kind,
    "when": when,
    "session_when": session_when,
    "names": names,
    "about": about,
    "percent": percent,
    "change": change,
    "number": number,
    "cadence": cadence,
}
