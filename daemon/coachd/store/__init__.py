"""The store: models, migrations, the engine (SQLite WAL or PostgreSQL) and the repositories, the only SQL."""

from __future__ import annotations

from .db import Store, create_store_engine, database_url, migrate
from .models import (
    ActionLog,
    Base,
    Busy,
    JobRun,
    Meta,
    OccurrenceId,
    Outbox,
    Reply,
    Series,
    SessionRow,
)
from .types import JSON, UTCDateTime

__all__ = [
    "JSON",
    "ActionLog",
    "Base",
    "Busy",
    "JobRun",
    "Meta",
    "OccurrenceId",
    "Outbox",
    "Reply",
    "Series",
    "SessionRow",
    "Store",
    "UTCDateTime",
    "create_store_engine",
    "database_url",
    "migrate",
]
