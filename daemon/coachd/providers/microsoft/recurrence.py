"""coachd's series rule (an RRULE) <-> Graph's patternedRecurrence, refusing what Graph cannot say.

Graph has no RRULE: a recurring event carries `pattern` (daily, weekly, absolute/relative monthly or
yearly, with interval, daysOfWeek, dayOfMonth, month, index, firstDayOfWeek) and `range` (startDate
plus endDate, numberOfOccurrences or no end, in recurrenceTimeZone). It has no EXDATE either: excluded
dates come back apart, as occurrences to cancel once the series exists.

A rule Graph cannot express raises RuleNotExpressible naming what cannot be said; nothing is rounded to a
rule that would book other dates ("never mangle"). Graph -> RRULE is for reading back what a person set
in Outlook, in the canonical text CalendarEntry.rrule holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from coachd.mail.ical import canonical_rrule
from coachd.model.types import SeriesSpec, to_utc
from coachd.providers.microsoft.pattern_dates import INDEXES, WEEKDAYS, occurrence_dates, occurrence_starts
from coachd.providers.microsoft.zones import graph_zone, iana_zone, to_graph

RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # date.weekday() order, as WEEKDAYS
# RRULE ordinals Graph's `index` can say; 5, -2 and the rest have no index.
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_SUPPORTED = {"FREQ", "INTERVAL", "UNTIL", "COUNT", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"}
_WHY_NOT = {
    "BYHOUR": "several times a day (BYHOUR): Graph repeats an event at most once a day",
    "BYMINUTE": "several times a day (BYMINUTE): Graph repeats an event at most once a day",
    "BYSECOND": "several times a day (BYSECOND): Graph repeats an event at most once a day",
    "BYYEARDAY": "days of the year (BYYEARDAY): Graph has no such pattern",
    "BYWEEKNO": "week numbers (BYWEEKNO): Graph has no such pattern",
}
# Where an expansion with UNTIL must stop looking for the last occurrence: 60 years of days.
_SEARCH_LIMIT = 366 * 60


class RuleNotExpressible(ValueError):
    """A recurrence rule Graph's patternedRecurrence cannot express; the message names what and why."""


@dataclass(frozen=True)
class GraphSeries:
    """How a series is written to Graph: the first occurrence's times, the recurrence, what to cancel after.

    `start` and `end` are dateTimeTimeZone values (local wall time and Graph's name of the series zone);
    `recurrence` is the patternedRecurrence JSON (None for a single event); `cancel` lists the UTC
    original starts (RECURRENCE-IDs) that coachd excluded, which Graph can only drop one by one.
    """

    start: dict[str, str]
    end: dict[str, str]
    recurrence: dict[str, Any] | None
    cancel: tuple[datetime, ...] = ()


def series_to_graph(spec: SeriesSpec) -> GraphSeries:
    """A SeriesSpec as Graph writes it.

    Raises RuleNotExpressible, ZoneNotExpressible for its zone, or AmbiguousWallTime for a first start or
    end in the hour a zone repeats when clocks go back.
    """
    start = to_graph(spec.start, spec.timezone)
    end = to_graph(to_utc(spec.start) + spec.length, spec.timezone)
    rule = spec.rrule()
    originals = set(spec.original_starts())
    # An EXDATE that is not an original start excludes nothing (SeriesSpec.occurrences ignores it too).
    cancel = tuple(sorted({to_utc(d) for d in spec.exdates} & originals))
    recurrence = None if rule is None else rrule_to_graph(rule, spec.start.astimezone(spec.zone), spec.timezone)
    return GraphSeries(start, end, recurrence, cancel)


def rrule_to_graph(rule: str, start: datetime, timezone: str) -> dict[str, Any]:
    """The patternedRecurrence for an RRULE (no "RRULE:" prefix) whose first occurrence is `start`.

    `start` is aware; the rule repeats in `timezone`'s wall-clock time (the event's own zone), where
    `range.startDate` and `range.endDate` are dates too. An UNTIL becomes the date of the last occurrence
    at or before it, so an UNTIL at 23:59:59 local or at 05:00 UTC the next day books the same days.
    """
    zone_name = graph_zone(timezone)  # first: a zone Graph cannot name is the clearest refusal
    local = start.astimezone(ZoneInfo(timezone))
    parts = _parts(rule)
    pattern = _pattern(parts, local.date())
    rng: dict[str, Any] = {"type": "noEnd", "startDate": local.date().isoformat(), "recurrenceTimeZone": zone_name}
    recurrence: dict[str, Any] = {"pattern": pattern, "range": rng}
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleNotExpressible(f"{rule}: COUNT and UNTIL together (RFC 5545 allows one of them)")
    if "COUNT" in parts:
        count = _integer(parts["COUNT"], "COUNT", rule)
        rng.update(type="numbered", numberOfOccurrences=count)
    elif "UNTIL" in parts:
        until = _until(parts["UNTIL"], ZoneInfo(timezone), rule)
        rng.update(type="endDate", endDate=_last_date(recurrence, local, until, rule).isoformat())
    return recurrence


def graph_to_rrule(recurrence: Mapping[str, Any], start: datetime) -> str:
    """The RRULE (canonical text, as CalendarEntry.rrule) for a patternedRecurrence whose first start is `start`.

    An endDate becomes UNTIL at 23:59:59 of that date in the recurrence zone, in UTC: every occurrence
    on or before that local date and none after, the same days Exchange books.
    """
    pattern, rng = recurrence["pattern"], recurrence["range"]
    zone = _recurrence_zone(recurrence, start)
    start = start.astimezone(zone)
    kind = pattern["type"]
    interval = int(pattern.get("interval") or 1)
    items = [("FREQ", _FREQ[kind])]
    if interval != 1:
        items.append(("INTERVAL", str(interval)))
    days = [RRULE_DAYS[WEEKDAYS.index(d.lower())] for d in pattern.get("daysOfWeek") or []]
    days = [d for d in RRULE_DAYS if d in days]
    if kind == "weekly":
        if days != [RRULE_DAYS[start.weekday()]]:
            items.append(("BYDAY", ",".join(days)))
        first = (pattern.get("firstDayOfWeek") or "sunday").lower()
        # The week start changes which days a multi-day rule books every other week, and only then.
        if interval > 1 and len(days) > 1 and first != "monday":
            items.append(("WKST", RRULE_DAYS[WEEKDAYS.index(first)]))
    if kind.startswith("absolute"):
        items.append(("BYMONTHDAY", str(int(pattern["dayOfMonth"]))))
    if kind.endswith("Yearly"):
        items.append(("BYMONTH", str(int(pattern["month"]))))
    if kind.startswith("relative"):
        ordinal = {v: k for k, v in _ORDINALS.items()}[(pattern.get("index") or "first").lower()]
        if len(days) == 1:
            items.append(("BYDAY", f"{ordinal}{days[0]}"))
        else:
            items += [("BYDAY", ",".join(days)), ("BYSETPOS", str(ordinal))]
    if rng["type"] == "numbered":
        items.append(("COUNT", str(int(rng["numberOfOccurrences"]))))
    elif rng["type"] == "endDate":
        end = datetime.combine(date.fromisoformat(rng["endDate"]), time(23, 59, 59), zone).astimezone(UTC)
        items.append(("UNTIL", end.strftime("%Y%m%dT%H%M%SZ")))
    return canonical_rrule(";".join(f"{k}={v}" for k, v in items))


def graph_to_cadence(recurrence: Mapping[str, Any] | None, start: datetime) -> tuple[timedelta | None, datetime | None]:
    """(every, until) in SeriesSpec's terms: a weekly rule on the first start's weekday, or none.

    `until` is the last occurrence's start (UTC), or None for no end. Raises RuleNotExpressible for any
    other pattern (a person made the series daily, or added a day): coachd series cannot hold it.
    """
    if recurrence is None:
        return None, None
    pattern, rng = recurrence["pattern"], recurrence["range"]
    interval = int(pattern.get("interval") or 1)
    weekday = WEEKDAYS[start.astimezone(_recurrence_zone(recurrence, start)).weekday()]
    days = [d.lower() for d in pattern.get("daysOfWeek") or []]
    if pattern["type"] == "weekly" and days == [weekday]:
        every = timedelta(weeks=interval)
    elif pattern["type"] == "daily" and interval % 7 == 0:
        every = timedelta(days=interval)
    else:
        shown = f"{pattern['type']} every {interval}" + (f" on {', '.join(days)}" if days else "")
        raise RuleNotExpressible(f"the event repeats {shown}: a coachd series repeats weekly on its first day "
                                 f"({weekday}) only")
    if rng["type"] == "noEnd":
        return every, None
    starts = occurrence_starts(recurrence, start, cap=_SEARCH_LIMIT)
    return every, (starts[-1] if starts else None)


def _recurrence_zone(recurrence: Mapping[str, Any], start: datetime) -> ZoneInfo:
    """The zone the pattern's days and dates are in: its recurrenceTimeZone, else the start's own.

    A start read back in UTC (`Prefer: outlook.timezone="UTC"`) can fall on another weekday than the
    series does locally; the pattern is always read in its own zone.
    """
    prefer = getattr(start.tzinfo, "key", None)
    return ZoneInfo(iana_zone(recurrence["range"].get("recurrenceTimeZone") or prefer or "UTC", prefer))


_FREQ = {"daily": "DAILY", "weekly": "WEEKLY", "absoluteMonthly": "MONTHLY", "relativeMonthly": "MONTHLY",
         "absoluteYearly": "YEARLY", "relativeYearly": "YEARLY"}


def _parts(rule: str) -> dict[str, str]:
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or not value.strip():
            raise RuleNotExpressible(f"{rule}: {item!r} is not NAME=VALUE")
        if name in parts:
            raise RuleNotExpressible(f"{rule}: {name} given twice")
        if name in _WHY_NOT:
            raise RuleNotExpressible(f"{rule}: {_WHY_NOT[name]}")
        if name not in _SUPPORTED:
            raise RuleNotExpressible(f"{rule}: {name} has no counterpart in Graph's patternedRecurrence")
        parts[name] = value.strip().upper()
    if "FREQ" not in parts:
        raise RuleNotExpressible(f"{rule}: no FREQ")
    return parts


def _pattern(parts: Mapping[str, str], first: date) -> dict[str, Any]:
    rule = ";".join(f"{k}={v}" for k, v in parts.items())
    freq = parts["FREQ"]
    if freq in ("SECONDLY", "MINUTELY", "HOURLY"):
        raise RuleNotExpressible(f"{rule}: repeats {freq.lower()}, more than once a day: Graph's smallest "
                                 "pattern is daily")
    if freq not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        raise RuleNotExpressible(f"{rule}: unknown FREQ {freq}")
    interval = _integer(parts.get("INTERVAL", "1"), "INTERVAL", rule)
    for name, what in (("BYMONTHDAY", "days of the month"), ("BYMONTH", "months"), ("BYSETPOS", "positions")):
        if "," in parts.get(name, ""):
            raise RuleNotExpressible(f"{rule}: several {what} ({name}={parts[name]}): Graph's pattern holds one")
    byday = [d for d in parts.get("BYDAY", "").split(",") if d]
    wkst = parts.get("WKST", "MO")
    if wkst not in RRULE_DAYS:
        raise RuleNotExpressible(f"{rule}: WKST={wkst} is not a day")
    if freq in ("DAILY", "WEEKLY"):
        for name in ("BYMONTHDAY", "BYMONTH", "BYSETPOS"):
            if name in parts:
                raise RuleNotExpressible(f"{rule}: {name} in a {freq.lower()} rule: Graph's {freq.lower()} pattern "
                                         "has no such filter")
        if freq == "DAILY" and not byday:
            return {"type": "daily", "interval": interval}
        if freq == "DAILY" and interval != 1:
            raise RuleNotExpressible(f"{rule}: every {interval} days but only on {','.join(byday)}: Graph has no "
                                     "such pattern")
        days = _plain_days(byday or [RRULE_DAYS[first.weekday()]], rule)
        if first.weekday() not in days:
            raise RuleNotExpressible(f"{rule}: the first occurrence ({first}, a {WEEKDAYS[first.weekday()]}) is "
                                     "not on a day the rule repeats on: Graph would start on the next such day")
        return {"type": "weekly", "interval": interval, "daysOfWeek": [WEEKDAYS[d] for d in sorted(days)],
                "firstDayOfWeek": WEEKDAYS[RRULE_DAYS.index(wkst)]}
    return _monthly_or_yearly(parts, freq, interval, byday, first, rule)


def _monthly_or_yearly(parts: Mapping[str, str], freq: str, interval: int, byday: list[str], first: date,
                       rule: str) -> dict[str, Any]:
    yearly = freq == "YEARLY"
    if "BYMONTH" in parts and not yearly:
        raise RuleNotExpressible(f"{rule}: BYMONTH in a monthly rule: Graph's monthly pattern has no such filter")
    month = _integer(parts.get("BYMONTH", str(first.month)), "BYMONTH", rule)
    if yearly and month != first.month:
        raise RuleNotExpressible(f"{rule}: the first occurrence ({first}) is not in month {month}")
    if yearly and byday and "BYMONTH" not in parts:
        raise RuleNotExpressible(f"{rule}: weekdays across a whole year (BYDAY without BYMONTH): Graph has no "
                                 "such pattern")
    where = {"month": month} if yearly else {}
    kind = "Yearly" if yearly else "Monthly"
    if byday:
        if "BYMONTHDAY" in parts:
            raise RuleNotExpressible(f"{rule}: BYDAY with BYMONTHDAY: Graph's pattern takes one or the other")
        ordinal, days = _relative(byday, parts.get("BYSETPOS"), rule)
        pattern = {"type": f"relative{kind}", "interval": interval, **where,
                   "daysOfWeek": [WEEKDAYS[d] for d in sorted(days)], "index": _ORDINALS[ordinal]}
        if not _is_relative_day(first, days, ordinal):
            raise RuleNotExpressible(f"{rule}: the first occurrence ({first}) is not the {_ORDINALS[ordinal]} of "
                                     "the days the rule names in its month")
        return pattern
    if "BYSETPOS" in parts:
        raise RuleNotExpressible(f"{rule}: BYSETPOS without BYDAY: Graph's positions count weekdays only")
    day = _integer(parts.get("BYMONTHDAY", str(first.day)), "BYMONTHDAY", rule, minimum=-31)
    if day < 1:
        raise RuleNotExpressible(f"{rule}: a day counted from the month's end (BYMONTHDAY={day}): Graph counts "
                                 "from the start only")
    if day != first.day:
        raise RuleNotExpressible(f"{rule}: the first occurrence ({first}) is not on day {day}")
    if day > 28 and not (yearly and month != 2):
        # Exchange books a shorter month's last day instead; the RRULE skips that month.
        raise RuleNotExpressible(f"{rule}: day {day} of {'February' if yearly else 'each month'}: Graph moves it "
                                 "to the last day of shorter months where the rule skips them")
    return {"type": f"absolute{kind}", "interval": interval, **where, "dayOfMonth": day}


def _relative(byday: list[str], setpos: str | None, rule: str) -> tuple[int, set[int]]:
    """(ordinal, weekdays) of a relative rule: BYDAY=2TU, or BYDAY=MO,TU with one BYSETPOS."""
    if setpos is not None:
        return _ordinal(_integer(setpos, "BYSETPOS", rule, minimum=-366), rule), _plain_days(byday, rule)
    if len(byday) != 1 or byday[0][-2:] not in RRULE_DAYS or len(byday[0]) == 2:
        raise RuleNotExpressible(f"{rule}: BYDAY={','.join(byday)} in a monthly or yearly rule: Graph takes one "
                                 "position (first to fourth, or last) of one or more weekdays")
    return _ordinal(_integer(byday[0][:-2], "BYDAY", rule, minimum=-53), rule), {RRULE_DAYS.index(byday[0][-2:])}


def _ordinal(value: int, rule: str) -> int:
    if value not in _ORDINALS:
        raise RuleNotExpressible(f"{rule}: position {value}: Graph's index is first to fourth, or last")
    return value


def _plain_days(byday: list[str], rule: str) -> set[int]:
    days = set()
    for item in byday:
        if item not in RRULE_DAYS:
            raise RuleNotExpressible(f"{rule}: BYDAY={item}: a weekly pattern takes plain weekdays")
        days.add(RRULE_DAYS.index(item))
    return days


def _is_relative_day(day: date, weekdays: set[int], ordinal: int) -> bool:
    month = [date(day.year, day.month, d) for d in range(1, 32) if _valid(day.year, day.month, d)]
    matching = [d for d in month if d.weekday() in weekdays]
    position = INDEXES.index(_ORDINALS[ordinal])
    chosen = matching[-1] if position == 4 else (matching[position] if position < len(matching) else None)
    return chosen == day


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _integer(text: str, name: str, rule: str, *, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RuleNotExpressible(f"{rule}: {name}={text} is not a whole number") from None
    if value < minimum or value == 0:
        raise RuleNotExpressible(f"{rule}: {name}={text} is out of range")
    return value


def _until(text: str, zone: ZoneInfo, rule: str) -> datetime:
    """UNTIL as an aware time: UTC when it ends in Z, else the series' own wall time (a hand-written rule)."""
    for form in ("%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S"):
        try:
            value = datetime.strptime(text, form)
        except ValueError:
            continue
        return value.replace(tzinfo=UTC) if text.endswith("Z") else value.replace(tzinfo=zone)
    raise RuleNotExpressible(f"{rule}: UNTIL={text} is not a date-time (a timed series ends at a date-time)")


def _last_date(recurrence: dict[str, Any], start: datetime, until: datetime, rule: str) -> date:
    """The local date of the last occurrence at or before `until`, found with Graph's own expansion."""
    zone = start.tzinfo
    wall = start.time().replace(tzinfo=None)
    probe = {**recurrence, "range": {**recurrence["range"], "type": "noEnd"}}
    last = None
    for day in occurrence_dates(probe, cap=_SEARCH_LIMIT):
        if datetime.combine(day, wall, zone) > until:
            break
        last = day
    if last is None:
        raise RuleNotExpressible(f"{rule}: UNTIL is before the first occurrence ({start.isoformat()}): no event "
                                 "to book")
    return last
