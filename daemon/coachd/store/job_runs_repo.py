"""Runs of the daemon's jobs: failures recorded for `coachd status` and the simulation's summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import JobRun


def record_failure(db: Session, program_id: str, job: str, at: datetime, error: str) -> None:
    db.add(JobRun(program_id=program_id, job=job, started_at=at, finished_at=at, ok=False, error=error))


def recent_failures(db: Session, program_id: str, since: datetime, limit: int) -> Sequence[JobRun]:
    """Failed runs started after `since`, newest first."""
    return db.scalars(select(JobRun).where(JobRun.program_id == program_id, JobRun.ok.is_(False),
                                           JobRun.started_at > since)
                      .order_by(JobRun.started_at.desc()).limit(limit)).all()


def failure_count(db: Session, program_id: str) -> int:
    return db.scalar(select(func.count()).select_from(JobRun).where(JobRun.program_id == program_id,
                                                                      JobRun.ok.is_(False))) or 0
