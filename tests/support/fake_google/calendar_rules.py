"""Calendar v3's value rules for the fake: event ids, times, recurrence lines and their instances."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

from tests.support.fake_google.server import ApiError

# Event ids chosen by a client: base32hex characters (a-v, 0-9), 5 to 1024 of them.
EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
# An instance's id: the recurring event's id and the instance's original start in UTC.
INSTANCE_ID = re.compile(r"(?P<master>[a-v0-9]{5,1024})_(?P<start>\d{8}T\d{6}Z)")
# An open-ended rule is expanded this far (Google expands lazily; tests never look further).
MAX_INSTANCES = 1000


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid", message)


def check_event_id(event_id: str) -> None:
    if not EVENT_ID.fullmatch(event_id):
        raise invalid("Invalid resource id value.")


def instance_id(master_id: str, original_start: datetime) -> str:
    return f"{master_id}_{original_start.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise invalid(f"Invalid time zone definition: {name}") from error


def when(value: Any, what: str) -> datetime:
    """An EventDateTime as an aware datetime (in its timeZone when it names one)."""
    if not isinstance(value, dict):
        raise ApiError(400, "required", f"Missing {what} time.")
    if "date" in value and "dateTime" not in value:
        # Stricter: coachd never books all-day events, and the fake does not model them.
        raise invalid(f"{what}: all-day events are not supported by the fake")
    text = value.get("dateTime")
    if not isinstance(text, str):
        raise ApiError(400, "required", f"Missing {what} time.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise invalid(f"Invalid {what} time: {text}") from error
    tz = zone(value.get("timeZone"))
    if moment.tzinfo is None:
        if tz is None:
            raise invalid(f"Missing time zone definition for {what} time.")
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz) if tz is not None else moment


def event_time(moment: datetime, tz: str | None) -> dict[str, str]:
    """An EventDateTime as Google writes it: the offset form, with the zone when the event has one."""
    if tz:
        return {"dateTime": moment.astimezone(ZoneInfo(tz)).isoformat(), "timeZone": tz}
    return {"dateTime": moment.astimezone(UTC).isoformat().replace("+00:00", "Z")}


@dataclass(frozen=True)
class Recurrence:
    """A recurring event's lines, understood: its original starts (UTC), exclusions taken out."""

    starts: tuple[datetime, ...]


def parse_recurrence(lines: Any, start: datetime, start_zone: str | None) -> Recurrence | None:
    """None for a single event; 400 for lines Google would refuse."""
    if not lines:
        return None
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise invalid("Invalid recurrence rule.")
    if start_zone is None:
        raise invalid("Missing time zone definition for start time.")
    tz = ZoneInfo(start_zone)
    local_start = start.astimezone(tz)
    rules = rrule.rruleset()
    has_rule = False
    for line in lines:
        name, _, value = line.partition(":")
        head = name.split(";")[0].upper()
        if head == "DTSTART" or not value:
            raise invalid(f"Invalid recurrence rule: {line}")
        if head == "RRULE":
            try:
                rules.rrule(rrule.rrulestr(value, dtstart=local_start, cache=False))  # type: ignore[arg-type]
            except (ValueError, TypeError) as error:
                raise invalid(f"Invalid recurrence rule: {line}") from error
            has_rule = True
        elif head in ("EXDATE", "RDATE"):
            for moment in _dates(name, value, tz):
                (rules.exdate if head == "EXDATE" else rules.rdate)(moment)
        else:
            raise invalid(f"Invalid recurrence rule: {line}")
    if not has_rule:
        raise invalid("A recurring event needs an RRULE line.")
    starts: list[datetime] = []
    for moment in rules:
        starts.append(moment.astimezone(UTC))
        if len(starts) >= MAX_INSTANCES:
            break
    return Recurrence(tuple(starts))


def _dates(name: str, value: str, tz: ZoneInfo) -> list[datetime]:
    params = dict(part.split("=", 1) for part in name.split(";")[1:] if "=" in part)
    line_zone = ZoneInfo(params["TZID"]) if "TZID" in params else tz
    result = []
    for text in value.split(","):
        try:
            if text.endswith("Z"):
                result.append(datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(tz))
            else:
                result.append(datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=line_zone).astimezone(tz))
        except ValueError as error:
            raise invalid(f"Invalid recurrence date: {text}") from error
    return result


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def original_start_of(event: dict[str, Any]) -> datetime:
    return when(event["originalStartTime"], "originalStart").astimezone(UTC)


def duration_of(event: dict[str, Any]) -> timedelta:
    return when(event["end"], "end") - when(event["start"], "start")


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Patch semantics: objects merge, everything else (lists included) is replaced."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def within(items: Iterable[dict[str, Any]], time_min: str | None, time_max: str | None) -> list[dict[str, Any]]:
    low = datetime.fromisoformat(time_min) if time_min else None
    high = datetime.fromisoformat(time_max) if time_max else None
    return [i for i in items if "start" not in i or ((low is None or when(i["end"], "end") > low)
                                                     and (high is None or when(i["start"], "start") < high))]


def encode(state: dict[str, Any], kind: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": kind, **state}).encode()).decode().rstrip("=")


def decode(token: str, kind: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if state.pop("k") != kind:
            raise ValueError(kind)
        return state
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise invalid(f"Invalid {kind} token value.") from error
