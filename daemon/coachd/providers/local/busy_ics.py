"""Busy times from iCalendar files or http(s) feeds, one per person (the embedded BusySource)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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

__all__ = ["BusySourceError", "FetchResponse", "IcsBusySource", "requests_fetch"]

# Floating and all-day events are placed in the person's zone only after expansion, so the
# expansion window is widened by more than any zone offset plus one day.
_MARGIN = timedelta(days=2)


@dataclass(frozen=True)
class FetchResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


Fetch = Callable[[str, Mapping[str, str]], FetchResponse]


def requests_fetch(url: str, headers: Mapping[str, str], timeout: float = 15.0) -> FetchResponse:
    """GET with requests; raises requests.RequestException on network failure."""
    response = requests.get(url, headers=dict(headers), timeout=timeout)
    return FetchResponse(response.status_code, response.content, {k.lower(): v for k, v in response.headers.items()})


@dataclass
class _Cached:
    version: Any  # (mtime_ns, size) for a file, fetch time (monotonic) for a URL
    calendars: list[icalendar.Calendar]
    etag: str | None = None
    last_modified: str | None = None


class IcsBusySource(BusySource):
    """person id -> path (relative to `base_dir`) or http(s) URL of an ICS calendar or free/busy feed."""

    def __init__(
        self,
        sources: Mapping[str, str],
        base_dir: Path,
        zones: Mapping[str, str] | None = None,
        *,
        fetch: Fetch = requests_fetch,
        ttl: timedelta = timedelta(minutes=5),
        monotonic: Callable[[], float] = time.monotonic,
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
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        # Expanding a year of recurring events is the costly part; the daemon asks for the
        # same window every sync, so keep each result while its parsed calendars are unchanged.
        self._expanded: dict[tuple[str, Interval], tuple[list[icalendar.Calendar], list[Interval]]] = {}

    def busy(self, person_id: str, window: Interval) -> list[Interval]:
        source = self.sources.get(person_id)
        if source is None:
            return []
        calendars = self._calendars(person_id, source)
        memo = self._expanded.get((person_id, window))
        if memo is not None and memo[0] is calendars:
            return list(memo[1])
        zone = self.zones.get(person_id, ZoneInfo("UTC"))
        try:
            found = [i for cal in calendars for i in _busy_in(cal, window, zone)]
        except Exception as exc:  # noqa: BLE001 - any broken rule or value in a feed is the feed's fault
            raise BusySourceError(person_id, source, f"cannot expand the calendar: {exc}") from exc
        result = _merge_clip(found, window)
        self._expanded = {k: v for k, v in self._expanded.items() if k[0] != person_id}
        self._expanded[(person_id, window)] = (calendars, result)
        return list(result)

    # --- loading -----------------------------------------------------------------------------------

    def _calendars(self, person_id: str, source: str) -> list[icalendar.Calendar]:
        if source.startswith(("http://", "https://")):
            return self._from_url(person_id, source)
        return self._from_file(person_id, source)

    def _from_file(self, person_id: str, source: str) -> list[icalendar.Calendar]:
        path = self.base_dir / source
        try:
            st = path.stat()
            version = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(str(path))
            if cached is not None and cached.version == version:
                return cached.calendars
            data = path.read_bytes()
        except FileNotFoundError:
            raise BusySourceError(person_id, source, f"file not found: {path}") from None
        except OSError as exc:
            raise BusySourceError(person_id, source, f"cannot read {path}: {exc}") from exc
        calendars = _parse(person_id, source, data)
        self._cache[str(path)] = _Cached(version, calendars)
        return calendars

    def _from_url(self, person_id: str, url: str) -> list[icalendar.Calendar]:
        now = self._monotonic()
        cached = self._cache.get(url)
        if cached is not None and now - cached.version < self._ttl:
            return cached.calendars
        headers: dict[str, str] = {"Accept": "text/calendar, */*;q=0.5"}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        try:
            response = self._fetch(url, headers)
        except (requests.RequestException, OSError) as exc:
            raise BusySourceError(person_id, url, f"cannot fetch: {exc}") from exc
        if response.status == 304 and cached is not None:
            cached.version = now
            return cached.calendars
        if response.status != 200:
            raise BusySourceError(person_id, url, f"HTTP {response.status}")
        calendars = _parse(person_id, url, response.body)
        self._cache[url] = _Cached(now, calendars, response.headers.get("etag"), response.headers.get("last-modified"))
        return calendars


def _parse(person_id: str, source: str, data: bytes) -> list[icalendar.Calendar]:
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # noqa: BLE001 - icalendar raises several types for broken input
        raise BusySourceError(person_id, source, f"not an iCalendar file: {exc}") from exc
    if not calendars:
        raise BusySourceError(person_id, source, "no VCALENDAR in the file")
    return calendars


# --- expansion -------------------------------------------------------------------------------------


def _busy_in(cal: icalendar.Calendar, window: Interval, zone: ZoneInfo) -> list[Interval]:
    lo = window.start.astimezone(zone) - _MARGIN
    hi = window.end.astimezone(zone) + _MARGIN
    result: list[Interval] = []
    for event in recurring_ical_events.of(cal).between(lo, hi):
        # recurring_ical_events gives each occurrence its own STATUS/TRANSP (overrides included).
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
            continue
        start = event["DTSTART"].dt
        if "DTEND" in event:
            end = event["DTEND"].dt
        elif "DURATION" in event:
            end = start + event["DURATION"].dt
        else:  # RFC 5545: a date lasts one day, a date-time without end is a moment
            end = start + timedelta(days=1) if not isinstance(start, datetime) else start
        result.append(Interval(_absolute(start, zone), _absolute(end, zone)))
    for freebusy in cal.walk("VFREEBUSY"):
        periods = freebusy.get("FREEBUSY", [])
        for period in periods if isinstance(periods, list) else [periods]:
            if str(period.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            start, end_or_length = period.dt
            end = start + end_or_length if isinstance(end_or_length, timedelta) else end_or_length
            result.append(Interval(_absolute(start, zone), _absolute(end, zone)))
    return result


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
