"""Small named values per program (sync cursors, fingerprints, coachee states, the simulation's clock)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Meta


def get(db: Session, program_id: str, name: str) -> Any:
    """The value stored under `name`; None when there is none."""
    row = db.get(Meta, (program_id, name))
    return None if row is None else row.value


def put(db: Session, program_id: str, name: str, value: Any) -> None:
    """Store `value` under `name`, replacing what was there."""
    row = db.get(Meta, (program_id, name))
    if row is None:
        db.add(Meta(program_id=program_id, name=name, value=value))
    else:
        row.value = value


def values(db: Session, program_id: str, names: Iterable[str]) -> dict[str, Any]:
    """The values stored under `names` (those that are there), in one query."""
    return dict(db.execute(select(Meta.name, Meta.value).where(  # type: ignore[arg-type]
        Meta.program_id == program_id, Meta.name.in_(tuple(names)))).all())


def with_prefix(db: Session, program_id: str, prefix: str) -> list[tuple[str, Any]]:
    """(name, value) of every entry whose name starts with `prefix`, by name."""
    return [(name, value) for name, value in db.execute(
        select(Meta.name, Meta.value).where(Meta.program_id == program_id, Meta.name.startswith(prefix))
        .order_by(Meta.name)).all()]
