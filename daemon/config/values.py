"""Value types of the config file: durations, working hours, days, time zones, ids."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import time, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DURATION_FORM = "a duration like 30m, 2h, 3d or 4w"


def _error(kind: str, message: str) -> PydanticCustomError:
    # PydanticCustomError is a ValueError, so these parsers also work outside pydantic,
    # and pydantic reports the message as written instead of prefixing "Value error, ".
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"))


def shown(value: Any) -> str:
    """A value as a message quotes it: repr, cut short so a misplaced mapping stays one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_duration(value: Any, *, allow_zero: bool = False) -> timedelta:
    """'30m', '2h', '3d', '4w' -> timedelta; a timedelta passes through (programmatic use)."""
    if isinstance(value, timedelta):
        result = value
    else:
        match = _DURATION.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise _error("duration", f"expected {_DURATION_FORM}, got {shown(value)}")
        result = int(match.group(1)) * _UNITS[match.group(2)]
    if result < timedelta(0) or (result == timedelta(0) and not allow_zero):
        raise _error("duration", f"expected a positive duration like 30m, 2h, 3d or 4w, got {shown(value)}")
    return result


def format_duration(value: timedelta) -> str:
    """The shortest config spelling of a duration: 60m -> '1h', 14d -> '2w'."""
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60)):
        if minutes and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


@dataclass(frozen=True)
class WorkingHours:
    """A person's daily window in their own zone; start < end (no overnight shifts)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def length(self) -> timedelta:
        return timedelta(hours=self.end.hour - self.start.hour, minutes=self.end.minute - self.start.minute)


def _clock(hour: str, minute: str, text: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        raise _error("hours", f"'{hour}:{minute}' is not a clock time (00:00 to 23:59), in {text!r}")
    return time(h, m)


def parse_hours(value: Any) -> WorkingHours:
    """'09:00-17:00' -> WorkingHours(time(9), time(17))."""
    if isinstance(value, WorkingHours):
        return value
    match = _HOURS.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _error("hours", f"expected working hours like 09:00-17:00, got {shown(value)}")
    start = _clock(match.group(1), match.group(2), value)
    end = _clock(match.group(3), match.group(4), value)
    if not start < end:
        raise _error("hours", f"working hours must end after they start, got {shown(value)}")
    return WorkingHours(start, end)


def _day(name: Any) -> int:
    key = name.strip().lower() if isinstance(name, str) else None
    for names in (DAY_NAMES, _FULL_DAY_NAMES):
        if key in names:
            return names.index(key)
    raise _error("days", f"unknown day {shown(name)} (expected {', '.join(DAY_NAMES)})")


def parse_days(value: Any) -> frozenset[int]:
    """'mon-fri', 'sun-thu' (wraps past sunday), 'wed' or [mon, wed] -> weekday numbers, 0=Monday."""
    if isinstance(value, (set, frozenset)) and all(isinstance(d, int) and 0 <= d <= 6 for d in value):
        return frozenset(value)
    if isinstance(value, str) and "-" in value:
        first, _, last = value.partition("-")
        start, end = _day(first), _day(last)
        return frozenset((start + i) % 7 for i in range((end - start) % 7 + 1))
    if isinstance(value, str):
        return frozenset({_day(value)})
    if isinstance(value, (list, tuple)):
        if not value:
            raise _error("days", "expected at least one day")
        return frozenset(_day(d) for d in value)
    raise _error("days", f"expected days like mon-fri or [mon, wed], got {shown(value)}")


def format_days(days: frozenset[int]) -> list[str]:
    return [DAY_NAMES[d] for d in sorted(days)]


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    # Scanning tzdata is slow; one scan per process. Keyed case-insensitively for suggestions.
    return {name.lower(): name for name in available_timezones()}


def suggest(word: str, choices: list[str] | dict[str, str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, case-insensitively, or ''."""
    lowered = choices if isinstance(choices, dict) else {c.lower(): c for c in choices}
    key = word.lower()
    if key in lowered:
        return f" (did you mean '{lowered[key]}'?)"
    close = difflib.get_close_matches(key, list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def check_zone(value: Any) -> str:
    """An IANA zone name known to this machine's tz database."""
    if not isinstance(value, str):
        raise _error("timezone", f"expected an IANA time zone name like 'Europe/London', got {shown(value)}")
    zones = _zones()
    if zones.get(value.lower()) == value:
        return value
    raise _error("timezone", f"unknown time zone {shown(value)}{suggest(value, zones)}")


def check_slug(value: Any) -> str:
    if isinstance(value, str) and _SLUG.match(value):
        return value
    form = "a lowercase id of letters a-z, digits, '-' and '_' (like 'maria' or 'emea-2')"
    raise _error("id", f"expected {form}, got {shown(value)}")


def is_slug(value: Any) -> bool:
    return isinstance(value, str) and _SLUG.match(value) is not None


_DURATION_SCHEMA = {"type": "string", "pattern": r"^[0-9]+[mhdw]$", "examples": ["30m", "2h", "3d", "4w"]}
_HOURS_PATTERN = r"^[0-9]{1,2}:[0-9]{2}-[0-9]{1,2}:[0-9]{2}$"
_DAY_ENUM = {"type": "string", "enum": list(DAY_NAMES)}

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A positive duration written <n><unit>, unit m, h, d or w."""

NonNegativeDuration = Annotated[
    timedelta,
    BeforeValidator(lambda v: parse_duration(v, allow_zero=True)),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A duration that may be 0m (a buffer or notice that can be switched off)."""

Hours = Annotated[
    WorkingHours,
    BeforeValidator(parse_hours),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _HOURS_PATTERN, "examples": ["09:00-17:00"]}),
]

Days = Annotated[
    frozenset[int],
    BeforeValidator(parse_days),
    PlainSerializer(format_days, return_type=list[str], when_used="json"),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": r"^[a-z]{3,9}(-[a-z]{3,9})?$", "examples": ["mon-fri", "sun-thu"]},
                {"type": "array", "items": _DAY_ENUM, "minItems": 1},
            ]
        }
    ),
]

ZoneName = Annotated[
    str, BeforeValidator(check_zone), WithJsonSchema({"type": "string", "examples": ["Europe/London"]})
]

Slug = Annotated[str, BeforeValidator(check_slug), WithJsonSchema({"type": "string", "pattern": _SLUG.pattern})]
