"""Busy times from iCalendar files or http(s) feeds, one per person (the embedded BusySource).

Each read is bounded (busy_limits.py): a deadline, a size cap, a cap on VEVENTs and one on the
occurrences its rules generate, so a hostile or broken calendar fails its own person, never the daemon.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
import requests

from coachd.model.types import Interval, to_utc
from coachd.providers.base import BusySource, BusySourceError
from coachd.providers.local.busy_limits import (
    Fetch,
    FetchResponse,
    LimitExceeded,
    SourceLimits,
    read_file_bounded,
    requests_fetch,
)

__all__ = ["BusySourceError", "FetchResponse", "IcsBusySource", "SourceLimits", "requests_fetch"]

# Floating and all-day events are placed in the person's zone only after expansion, so the
# expansion window is widened by more than any zone offset plus one day.
_MARGIN = timedelta(days=2)
DEFAULT_LIMITS = SourceLimits()


@dataclass
class _Cached:
    version: Any  # (mtime_ns, size) for a file, fetch time (monotonic) for a URL
    calendars: list[icalendar.Calendar]
    etag: str | None = None
    last_modified: str | None = None


class IcsBusySource(BusySource):
    """person id -> path (relative to `base_dir`) or http(s) URL of an ICS calendar or free/busy feed.

    Safe to ask for several people at once from several threads (EachPersonBusy does).
    """

    def __init__(
        self,
        sources: Mapping[str, str],
        base_dir: Path,
        zones: Mapping[str, str] | None = None,
        *,
        fetch: Fetch = requests_fetch,
        ttl: timedelta = timedelta(minutes=5),
        monotonic: Callable[[], float] = time.monotonic,
        limits: SourceLimits = DEFAULT_LIMITS,
    ):
        self.sources = dict(sources)
        self.base_dir = Path(base_dir)
        self.zones: dict[str, ZoneInfo] = {}
        for person_id, name in (zones or {}).items():
            try:
                self.zones[person_id] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"{person_id}: unknown time zone {name!r}") from exc
        self._fetch = fetch
        self._ttl = ttl.total_seconds()
        self._monotonic = monotonic  # the TTL's clock; deadlines always use the real one
        self.limits = limits
        self._lock = threading.Lock()  # the caches below are shared by the threads asking
        self._cache: dict[str, _Cached] = {}
        # Expanding a year of recurring events is the costly part; the daemon asks for the
        # same window every sync, so keep each result while its parsed calendars are unchanged.
        self._expanded: dict[tuple[str, Interval], tuple[list[icalendar.Calendar], list[Interval]]] = {}

    def busy(self, person_id: str, window: Interval) -> list[Interval]:
        source = self.sources.get(person_id)
        if source is None:
            return []
        deadline = time.monotonic() + self.limits.deadline_seconds
        try:
            calendars = self._calendars(person_id, source, deadline)
        except LimitExceeded as exc:
            raise BusySourceError(person_id, source, str(exc)) from None
        with self._lock:
            memo = self._expanded.get((person_id, window))
        if memo is not None and memo[0] is calendars:
            return list(memo[1])
        zone = self.zones.get(person_id, ZoneInfo("UTC"))
        try:
            found = _busy_in(calendars, window, zone, _Budget(self.limits, deadline))
        except LimitExceeded as exc:
            raise BusySourceError(person_id, source, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - any broken rule or value in a feed is the feed's fault
            raise BusySourceError(person_id, source, f"cannot expand the calendar: {exc}") from exc
        result = _merge_clip(found, window)
        with self._lock:
            self._expanded = {k: v for k, v in self._expanded.items() if k[0] != person_id}
            self._expanded[(person_id, window)] = (calendars, result)
        return list(result)

    # --- loading -----------------------------------------------------------------------------------

    def _calendars(self, person_id: str, source: str, deadline: float) -> list[icalendar.Calendar]:
        if source.startswith(("http://", "https://")):
            return self._from_url(person_id, source, deadline)
        return self._from_file(person_id, source)

    def _from_file(self, person_id: str, source: str) -> list[icalendar.Calendar]:
        path = self.base_dir / source
        try:
            st = path.stat()
            version = (st.st_mtime_ns, st.st_size)
            with self._lock:
                cached = self._cache.get(str(path))
            if cached is not None and cached.version == version:
                return cached.calendars
            data = read_file_bounded(path, self.limits)
        except FileNotFoundError:
            raise BusySourceError(person_id, source, f"file not found: {path}") from None
        except OSError as exc:
            raise BusySourceError(person_id, source, f"cannot read {path}: {exc}") from exc
        calendars = _parse(person_id, source, data, self.limits)
        with self._lock:
            self._cache[str(path)] = _Cached(version, calendars)
        return calendars

    def _from_url(self, person_id: str, url: str, deadline: float) -> list[icalendar.Calendar]:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None and now - cached.version < self._ttl:
            return cached.calendars
        headers: dict[str, str] = {"Accept": "text/calendar, */*;q=0.5"}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        try:
            response = self._fetch(url, headers, self.limits)
        except (requests.RequestException, OSError) as exc:
            raise BusySourceError(person_id, url, f"cannot fetch: {exc}") from exc
        if response.status == 304 and cached is not None:
            cached.version = now
            return cached.calendars
        if response.status != 200:
            raise BusySourceError(person_id, url, f"HTTP {response.status}")
        if time.monotonic() > deadline:  # a fetch given its own deadline may not have kept to ours
            raise LimitExceeded(self.limits, "deadline_seconds", "the feed took too long to arrive")
        calendars = _parse(person_id, url, response.body, self.limits)
        with self._lock:
            self._cache[url] = _Cached(now, calendars, response.headers.get("etag"),
                                       response.headers.get("last-modified"))
        return calendars


_BEGIN_EVENT = re.compile(rb"^BEGIN:VEVENT\s*$", re.IGNORECASE | re.MULTILINE)


def _parse(person_id: str, source: str, data: bytes, limits: SourceLimits) -> list[icalendar.Calendar]:
    # Counted in the bytes before parsing: a parsed event costs far more memory than its text.
    events = sum(1 for _ in _BEGIN_EVENT.finditer(data))
    if events > limits.max_events:
        raise LimitExceeded(limits, "max_events", f"the calendar has {events:,} events")
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # noqa: BLE001 - icalendar raises several types for broken input
        raise BusySourceError(person_id, source, f"not an iCalendar file: {exc}") from exc
    if not calendars:
        raise BusySourceError(person_id, source, "no VCALENDAR in the file")
    return calendars


# --- expansion -------------------------------------------------------------------------------------


class _Budget:
    """Occurrences and time one source may still use; raises LimitExceeded when either runs out."""

    def __init__(self, limits: SourceLimits, deadline: float):
        self.limits = limits
        self.deadline = deadline
        self.planned = 0  # occurrences the rules will generate, estimated before expanding
        self.found = 0  # occurrences met while expanding, counted one by one

    def plan(self, count: int, what: str) -> None:
        self.planned += count
        if self.planned > self.limits.max_instances:
            raise LimitExceeded(self.limits, "max_instances",
                                f"{what} makes up to {self.planned:,} occurrences (with the rules before it) "
                                "from its start to the window's end")

    def take(self) -> None:
        self.found += 1
        if self.found > self.limits.max_instances:
            raise LimitExceeded(self.limits, "max_instances",
                                f"more than {self.limits.max_instances:,} occurrences in the window")
        if self.found % 512 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(self.limits, "deadline_seconds",
                                f"still working out occurrences after {self.limits.deadline_seconds:g} s")


def _busy_in(calendars: list[icalendar.Calendar], window: Interval, zone: ZoneInfo, budget: _Budget) -> list[Interval]:
    lo = window.start.astimezone(zone) - _MARGIN
    hi = window.end.astimezone(zone) + _MARGIN
    for cal in calendars:
        _plan_rules(cal.walk("VEVENT"), hi, zone, budget)
    budget.check_time()
    result: list[Interval] = []
    lo_utc, hi_utc = to_utc(lo), to_utc(hi)
    for cal in calendars:
        recurring, single = _split(cal)
        # An event that does not recur is its own only occurrence: read directly, as the expander would.
        for event in single:
            busy = _event_busy(event, zone)
            if busy is not None and busy.end >= lo_utc and busy.start <= hi_utc:
                budget.take()
                result.append(busy)
        # Series by series, each a lazy generator, counted as it goes: `between` on the whole calendar
        # would build every occurrence first, and a rule repeating every second has millions.
        for series in recurring_ical_events.of(recurring).series:
            for occurrence in series.between(lo, hi):
                budget.take()
                # recurring_ical_events gives each occurrence its own STATUS/TRANSP (overrides included).
                busy = _event_busy(occurrence.as_component(False), zone)
                if busy is not None:
                    result.append(busy)
        for freebusy in cal.walk("VFREEBUSY"):
            periods = freebusy.get("FREEBUSY", [])
            for period in periods if isinstance(periods, list) else [periods]:
                if str(period.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                    continue
                start, end_or_length = period.dt
                end = start + end_or_length if isinstance(end_or_length, timedelta) else end_or_length
                result.append(Interval(_absolute(start, zone), _absolute(end, zone)))
    return result


_RECURRENCE = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")


def _split(cal: icalendar.Calendar) -> tuple[icalendar.Calendar, list[icalendar.cal.Component]]:
    """The calendar with only what needs the expander (events of a UID that recurs or is overridden, and
    everything not a top-level VEVENT), and the top-level events that stand alone.

    Most events of a big calendar stand alone; handing them to the expander costs a series object and a
    copy each, which is most of the time a large calendar takes.
    """
    events = [c for c in cal.subcomponents if c.name == "VEVENT"]
    recurring_uids = {str(e.get("UID")) for e in events if any(name in e for name in _RECURRENCE)}
    single = [e for e in events if "DTSTART" in e and str(e.get("UID")) not in recurring_uids
              and not any(name in e for name in _RECURRENCE)]
    alone = {id(e) for e in single}
    rest = icalendar.Calendar(dict(cal))
    rest.subcomponents = [c for c in cal.subcomponents if id(c) not in alone]
    return rest, single


def _event_busy(event: icalendar.cal.Component, zone: ZoneInfo) -> Interval | None:
    """When one occurrence makes its person busy; None for a cancelled or transparent (free) one."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        return None
    start = event["DTSTART"].dt
    if "DTEND" in event:
        end = event["DTEND"].dt
    elif "DURATION" in event:
        end = start + event["DURATION"].dt
    else:  # RFC 5545: a date lasts one day, a date-time without end is a moment
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    return Interval(_absolute(start, zone), _absolute(end, zone))


# Seconds in one period of each frequency (a month at its shortest, so the estimate is an upper bound).
_PERIOD = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 7 * 86400,
           "MONTHLY": 28 * 86400, "YEARLY": 365 * 86400}
_ORDER = tuple(_PERIOD)
# BY parts that add occurrences within one period of a coarser frequency, with how many each value
# can add at most: BYDAY=MO is up to 5 Mondays in a month, 53 in a year.
_EXPANDS = (("BYSECOND", "SECONDLY", {}), ("BYMINUTE", "MINUTELY", {}), ("BYHOUR", "HOURLY", {}),
            ("BYDAY", "DAILY", {"MONTHLY": 5, "YEARLY": 53}), ("BYMONTHDAY", "WEEKLY", {}),
            ("BYYEARDAY", "MONTHLY", {}), ("BYWEEKNO", "MONTHLY", {"YEARLY": 7}), ("BYMONTH", "MONTHLY", {}))


def _plan_rules(events: Iterable[icalendar.cal.Component], hi: datetime, zone: ZoneInfo, budget: _Budget) -> None:
    """Charge each RRULE's occurrences from its DTSTART to `hi` to the budget before anything is expanded.

    The expander generates every occurrence from a rule's start, also those before the window, and keeps
    them: a rule repeating every second since last year is refused here, before it costs anything.
    """
    for event in events:
        rules = event.get("RRULE")
        if rules is None or "DTSTART" not in event:
            continue
        start = _absolute(event["DTSTART"].dt, zone)
        for rule in rules if isinstance(rules, list) else [rules]:
            count = _rule_bound(rule, start, to_utc(hi), zone)
            if count:
                budget.plan(count, f"the rule {rule.to_ical().decode(errors='replace')[:80]} of event "
                                   f"{str(event.get('UID', '?'))[:80]}")


def _first(rule: Mapping[str, Any], key: str) -> Any:
    value = rule.get(key)
    return value[0] if isinstance(value, list) and value else value


def _rule_bound(rule: Mapping[str, Any], start: datetime, hi: datetime, zone: ZoneInfo) -> int:
    """At most how many occurrences `rule` generates from `start` to `hi` (0 if its frequency is unknown:
    the expander then reports the rule as broken)."""
    freq = str(_first(rule, "FREQ") or "").upper()
    if freq not in _PERIOD:
        return 0
    try:
        interval = max(int(_first(rule, "INTERVAL") or 1), 1)
    except (TypeError, ValueError):
        return 0
    end = hi
    until = _first(rule, "UNTIL")
    if isinstance(until, (date, datetime)):
        end = min(end, _absolute(until, zone))
    periods = max(int((end - start).total_seconds() // (_PERIOD[freq] * interval)) + 1, 1)
    rank = _ORDER.index(freq)
    per_period = 1
    for part, finer_than, spread in _EXPANDS:
        values = rule.get(part)
        if values and rank > _ORDER.index(finer_than):
            per_period *= len(values) * spread.get(freq, 1)
    bound = periods * per_period
    count = _first(rule, "COUNT")
    if count is not None:
        try:
            bound = min(bound, int(count))
        except (TypeError, ValueError):
            pass
    return bound


def _absolute(value: date | datetime, zone: ZoneInfo) -> datetime:
    """All-day dates start at the person's local midnight; floating times are the person's wall time."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, clock_time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return to_utc(value)


def _merge_clip(intervals: list[Interval], window: Interval) -> list[Interval]:
    lo, hi = to_utc(window.start), to_utc(window.end)
    merged: list[Interval] = []
    for item in sorted(intervals):
        start, end = max(item.start, lo), min(item.end, hi)
        if start >= end:
            continue
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, end)
        else:
            merged.append(Interval(start, end))
    return merged
