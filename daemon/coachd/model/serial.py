"""Series specs and overrides to and from plain JSON, for the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from coachd.model.types import Attendee, BookedSeries, Override, Role, SeriesSpec, SessionKind


def _attendee(a: Attendee) -> dict[str, str]:
    return {"id": a.person_id, "name": a.name, "email": a.email, "tz": a.timezone, "role": a.role.value}


def _attendee_from(d: dict[str, str]) -> Attendee:
    return Attendee(d["id"], d["name"], d["email"], d["tz"], Role(d["role"]))


def spec_to_dict(spec: SeriesSpec) -> dict[str, Any]:
    return {
        "key": spec.key, "uid": spec.uid, "kind": spec.kind.value, "title": spec.title,
        "timezone": spec.timezone, "start": spec.start.isoformat(),
        "length_minutes": int(spec.length.total_seconds() // 60),
        "host": _attendee(spec.host), "attendees": [_attendee(a) for a in spec.attendees],
        "every_weeks": spec.interval_weeks,
        "until": spec.until.isoformat() if spec.until else None,
        "exdates": [d.isoformat() for d in spec.exdates],
        "team_id": spec.team_id, "description": spec.description,
        "former": [_attendee(a) for a in spec.former], "ended": spec.ended,
    }


def spec_from_dict(d: dict[str, Any]) -> SeriesSpec:
    return SeriesSpec(
        key=d["key"], uid=d["uid"], kind=SessionKind(d["kind"]), title=d["title"], timezone=d["timezone"],
        start=datetime.fromisoformat(d["start"]), length=timedelta(minutes=d["length_minutes"]),
        host=_attendee_from(d["host"]), attendees=tuple(_attendee_from(a) for a in d["attendees"]),
        every=timedelta(weeks=d["every_weeks"]) if d["every_weeks"] else None,
        until=datetime.fromisoformat(d["until"]) if d["until"] else None,
        exdates=tuple(datetime.fromisoformat(x) for x in d["exdates"]),
        team_id=d.get("team_id"), description=d.get("description", ""),
        former=tuple(_attendee_from(a) for a in d.get("former", ())), ended=bool(d.get("ended", False)),
    )


def overrides_to_list(overrides: tuple[Override, ...]) -> list[dict[str, Any]]:
    return [{"rid": o.recurrence_id.isoformat(), "start": o.start.isoformat(), "end": o.end.isoformat(),
             "cancelled": o.cancelled, "pinned": o.pinned} for o in overrides]


def overrides_from_list(items: list[dict[str, Any]]) -> tuple[Override, ...]:
    return tuple(Override(datetime.fromisoformat(i["rid"]), datetime.fromisoformat(i["start"]),
                          datetime.fromisoformat(i["end"]), bool(i["cancelled"]), bool(i.get("pinned", False)))
                 for i in items)


def booked_from_row(spec: dict[str, Any], sequence: int, overrides: list[dict[str, Any]],
                    cancelled: bool) -> BookedSeries:
    return BookedSeries(spec_from_dict(spec), sequence, overrides_from_list(overrides), cancelled)
