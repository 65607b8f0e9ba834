"""Booked series and their sessions, as the organizer's calendar should hold them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coachd.model.serial import overrides_to_list, spec_to_dict
from coachd.model.types import BookedSeries

from .models import OccurrenceId, Series, SessionRow


def get(db: Session, uid: str) -> Series | None:
    """The series stored under this iCalendar UID."""
    return db.get(Series, uid)


def record(db: Session, program_id: str, series: BookedSeries, booked_at: datetime, now: datetime) -> None:
    """Write a series as booked (first booked at `booked_at`) and replace its sessions, in the
    caller's transaction."""
    spec = series.spec
    row = db.get(Series, spec.uid)
    if row is None:
        row = Series(uid=spec.uid, program_id=program_id, key=spec.key, booked_at=booked_at)
        db.add(row)
    row.key, row.kind, row.title, row.timezone = spec.key, spec.kind.value, spec.title, spec.timezone
    row.spec, row.sequence = spec_to_dict(spec), series.sequence
    row.overrides, row.cancelled, row.updated_at = overrides_to_list(series.overrides), series.cancelled, now
    db.flush()
    db.execute(delete(SessionRow).where(SessionRow.series_uid == spec.uid))
    for occurrence in series.occurrences():
        db.add(SessionRow(id=occurrence.session_id, program_id=program_id, series_uid=spec.uid,
                          kind=spec.kind.value, recurrence_id=occurrence.recurrence_id,
                          start=occurrence.start, end=occurrence.end, cancelled=occurrence.cancelled))


def versions(db: Session, program_id: str) -> list[tuple[str, int, datetime]]:
    """(uid, sequence, updated_at) of every series: what tells a changed series from one already read."""
    return [(uid, sequence, updated) for uid, sequence, updated in db.execute(
        select(Series.uid, Series.sequence, Series.updated_at).where(Series.program_id == program_id)).all()]


def by_uids(db: Session, uids: Sequence[str], program_id: str | None = None) -> Sequence[Series]:
    """The series with these UIDs (of `program_id` only, if given)."""
    query = select(Series).where(Series.uid.in_(uids))
    if program_id is not None:
        query = query.where(Series.program_id == program_id)
    return db.scalars(query).all()


def titles(db: Session, program_id: str) -> dict[str, str]:
    """Each series' title by UID."""
    return {uid: title for uid, title in db.execute(
        select(Series.uid, Series.title).where(Series.program_id == program_id)).all()}


def kind_counts(db: Session, program_id: str) -> Counter[str]:
    """How many series of each kind."""
    return Counter(db.scalars(select(Series.kind).where(Series.program_id == program_id)))


def upcoming_sessions(db: Session, program_id: str, now: datetime, limit: int) -> Sequence[SessionRow]:
    """The next sessions not cancelled and not over at `now`, by start."""
    return db.scalars(select(SessionRow).where(SessionRow.program_id == program_id, SessionRow.end > now,
                                               SessionRow.cancelled.is_(False))
                      .order_by(SessionRow.start).limit(limit)).all()


def session_count(db: Session, program_id: str) -> int:
    """How many sessions are booked, cancelled ones included."""
    return db.scalar(select(func.count()).select_from(SessionRow).where(SessionRow.program_id == program_id)) or 0


def held_count(db: Session, program_id: str, by: datetime) -> int:
    """How many sessions not cancelled were over by `by`."""
    return db.scalar(select(func.count()).select_from(SessionRow).where(
        SessionRow.program_id == program_id, SessionRow.end <= by, SessionRow.cancelled.is_(False))) or 0


@dataclass(frozen=True)
class ProviderIds:
    """A series' ids in the organizer's calendar provider: its event's, and its occurrences' by
    RECURRENCE-ID (UTC). coachd's UID stays the series' identity; these are how the provider names it."""

    event_id: str | None = None
    occurrences: Mapping[datetime, str] = field(default_factory=dict)


def set_provider_event_id(db: Session, uid: str, event_id: str | None) -> None:
    """Keep the provider's id of the series' event (None: it has none)."""
    row = db.get(Series, uid)
    if row is None:
        raise KeyError(f"no series {uid!r} in the store")
    row.provider_event_id = event_id


def set_occurrence_ids(db: Session, uid: str, ids: Mapping[datetime, str]) -> None:
    """Keep the provider's ids of occurrences of the series, by RECURRENCE-ID; others already kept stay."""
    for recurrence_id, provider_id in ids.items():
        db.merge(OccurrenceId(series_uid=uid, recurrence_id=recurrence_id, provider_id=provider_id))


def provider_ids(db: Session, uid: str) -> ProviderIds:
    """What the provider calls the series and its occurrences; empty for a series it has no ids for."""
    event_id = db.scalar(select(Series.provider_event_id).where(Series.uid == uid))
    occurrences = dict(db.execute(select(OccurrenceId.recurrence_id, OccurrenceId.provider_id)  # type: ignore[arg-type]
                                  .where(OccurrenceId.series_uid == uid)).all())
    return ProviderIds(event_id, occurrences)


def uid_of_provider_event(db: Session, program_id: str, event_id: str) -> str | None:
    """coachd's UID of the series the provider knows as `event_id`."""
    return db.scalar(select(Series.uid).where(Series.program_id == program_id, Series.provider_event_id == event_id))
