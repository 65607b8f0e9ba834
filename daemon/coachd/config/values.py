"""Value types of the config file: durations, digest cadences, shares, working hours, days, time zones, ids."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import time, timedelta
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from coachd.config.zone_abbreviations import abbreviation_problem

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DURATION_FORM = "a duration like 30m, 2h, 3d or 4w"
_WEEKS = re.compile(r"^(\d+)w$")
# Words people use for cadences we take in another spelling; a close-match suggestion would mislead.
_CADENCE_HINTS = {"biweekly": "2w", "fortnightly": "2w", "bimonthly": "8w", "daily": "1w"}
_CADENCE_FORM = "weekly, monthly, quarterly or a number of weeks like 2w or 4w"
_PERCENT = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*%$")
_SHARE_FORM = "a share like 10% or 0.1"


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
class DigestCadence:
    """How often the sponsors' digest covers a period: every N weeks, or every N calendar months.

    Exactly one of weeks and months is set. Month periods end on the 1st of a month (quarters on
    the 1st of January, April, July and October) in the program's zone.
    """

    weeks: int | None = None
    months: int | None = None

    def __post_init__(self) -> None:
        if (self.weeks is None) == (self.months is None):
            raise ValueError("a digest cadence has either weeks or months")
        if (self.weeks or self.months or 0) < 1 or self.months not in (None, 1, 3):
            raise ValueError(f"not a digest cadence: weeks={self.weeks}, months={self.months}")

    @property
    def label(self) -> str:
        """How `coachd check` and mail say it: 'weekly', 'every 4 weeks', 'monthly', 'quarterly'."""
        if self.months is not None:
            return "monthly" if self.months == 1 else "quarterly"
        return "weekly" if self.weeks == 1 else f"every {self.weeks} weeks"

    def __str__(self) -> str:
        # The config spelling, so a dumped config loads back to the same cadence.
        if self.months is not None:
            return "monthly" if self.months == 1 else "quarterly"
        return "weekly" if self.weeks == 1 else f"{self.weeks}w"


_NAMED_CADENCES = {
    "weekly": DigestCadence(weeks=1),
    "monthly": DigestCadence(months=1),
    "quarterly": DigestCadence(months=3),
}


def parse_digest_every(value: Any) -> DigestCadence:
    """'weekly', 'monthly', 'quarterly' or whole weeks '2w' -> DigestCadence; a cadence passes through."""
    if isinstance(value, DigestCadence):
        return value
    if isinstance(value, timedelta) and value > timedelta(0) and value == timedelta(weeks=value.days // 7):
        return DigestCadence(weeks=value.days // 7)  # programmatic use, as with durations
    text = value.strip() if isinstance(value, str) else None
    if text in _NAMED_CADENCES:
        return _NAMED_CADENCES[text]
    match = _WEEKS.match(text) if text is not None else None
    if match is not None and int(match.group(1)) > 0:
        return DigestCadence(weeks=int(match.group(1)))
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        hint = f" (did you mean '{value}w'?)"
    elif text is not None and text.isalpha():
        lowered = text.lower()
        hint = f" (did you mean '{_CADENCE_HINTS[lowered]}'?)" if lowered in _CADENCE_HINTS else suggest(
            text, list(_NAMED_CADENCES)
        )
    raise _error("digest_every", f"expected {_CADENCE_FORM}, got {shown(value)}{hint}")


def parse_share(value: Any) -> float:
    """'10%' or 0.1 -> 0.1: a part of a whole, above 0 and at most all of it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        share = float(value)
    else:
        match = _PERCENT.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise _error("share", f"expected {_SHARE_FORM}, got {shown(value)}")
        share = float(match.group(1)) / 100
    if not 0 < share <= 1:
        # 10 most likely meant 10%, not ten times the whole.
        hint = f" (did you mean '{value:g}%'?)" if isinstance(value, (int, float)) and 1 < value <= 100 else ""
        raise _error("share", f"expected a share above 0% and at most 100%, like 10% or 0.1, got {shown(value)}{hint}")
    return share


def format_share(value: float) -> str:
    """0.1 -> '10%'."""
    return f"{value * 100:g}%"


def parse_number(value: Any) -> float:
    """A finite number -> float: YAML's 22 or 22.5, or text that is one ('1e5' is text to YAML 1.1)."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        number = _float(value)
    if number is not None and math.isfinite(number):
        return number
    head = value.strip().split(" ")[0].rstrip("%") if isinstance(value, str) else ""
    hint = " (write the number alone; the unit goes in unit:)" if _float(head) is not None else ""
    raise _error("number", f"expected a number, got {shown(value)}{hint}")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


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
    problem = abbreviation_problem(value)
    if problem is not None:  # before the lookup: EST, CET and MST are legacy tz names that ignore summer time
        raise _error("timezone", problem)
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

DigestEvery = Annotated[
    DigestCadence,
    BeforeValidator(parse_digest_every),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "enum": list(_NAMED_CADENCES)},
                {"type": "string", "pattern": r"^[0-9]*[1-9][0-9]*w$", "examples": ["2w", "4w"]},
            ]
        }
    ),
]
"""A digest cadence: weekly, monthly, quarterly, or whole weeks like 2w."""

Share = Annotated[
    float,
    BeforeValidator(parse_share),
    PlainSerializer(format_share, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?\s*%$", "examples": ["10%"]},
                {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            ]
        }
    ),
]
"""A share of a whole, above 0 and at most 1: '10%' or 0.1."""

Number = Annotated[float, BeforeValidator(parse_number), WithJsonSchema({"type": "number"})]
"""A plain number: YAML's 22 or 22.5, never the text '22%'."""

ZoneName = Annotated[
    str, BeforeValidator(check_zone), WithJsonSchema({"type": "string", "examples": ["Europe/London"]})
]

Slug = Annotated[str, BeforeValidator(check_slug), WithJsonSchema({"type": "string", "pattern": _SLUG.pattern})]
