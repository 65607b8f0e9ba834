"""The action log: the keys of the actions the executor has done, its idempotency record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ActionLog

# Keys asked per query: long IN lists are slow on SQLite and capped by its variable limit.
CHUNK = 500


def done_keys(db: Session, keys: Sequence[str]) -> set[str]:
    """Which of `keys` are recorded as done."""
    found: set[str] = set()
    for chunk in range(0, len(keys), CHUNK):
        found.update(db.scalars(select(ActionLog.key).where(ActionLog.key.in_(keys[chunk:chunk + CHUNK]))))
    return found


def record(db: Session, key: str, program_id: str, kind: str, done_at: datetime, detail: dict[str, Any]) -> None:
    """Record an action as done, in the caller's transaction (beside its effect); a key already
    there is left as it was."""
    if db.get(ActionLog, key) is None:
        db.add(ActionLog(key=key, program_id=program_id, kind=kind, done_at=done_at, detail=detail))
