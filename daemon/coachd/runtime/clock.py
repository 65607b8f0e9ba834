"""The one place coachd reads the time: a Clock seam, real or virtual."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from coachd.model.types import require_aware


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Wall-clock time for the daemon."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class VirtualClock:
    """Time that moves only when told to: `coachd simulate` and tests drive the jobs with it."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start, "VirtualClock start").astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance_to(self, instant: datetime) -> None:
        instant = require_aware(instant, "VirtualClock instant").astimezone(timezone.utc)
        if instant < self._now:
            raise ValueError(f"a virtual clock never goes back: {instant} < {self._now}")
        self._now = instant
