"""People's busy intervals as last observed from their calendars or busy sources."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from coachd.model.types import Interval

from .models import Busy


def replace(db: Session, program_id: str, person_id: str, spans: Sequence[Interval], source: str) -> None:
    """A person's busy intervals become `spans`, read from `source`."""
    db.execute(delete(Busy).where(Busy.program_id == program_id, Busy.person_id == person_id))
    db.add_all(Busy(program_id=program_id, person_id=person_id, start=s.start, end=s.end, source=source)
               for s in spans)


def version(db: Session, program_id: str) -> tuple[int, int | None]:
    """(row count, highest id): changes whenever any person's busy times are replaced."""
    count, highest = db.execute(select(func.count(), func.max(Busy.id)).where(Busy.program_id == program_id)).one()
    return count, highest


def by_person(db: Session, program_id: str) -> dict[str, list[Interval]]:
    """Everyone's busy intervals, each person's in order of start."""
    busy: dict[str, list[Interval]] = defaultdict(list)
    for person_id, start, end in db.execute(
        select(Busy.person_id, Busy.start, Busy.end).where(Busy.program_id == program_id).order_by(Busy.start)
    ):
        busy[person_id].append(Interval(start, end))
    return dict(busy)
