"""A calendar provider that fails on demand in front of a real one: for tests of how a pass copes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from coachd.model.types import BookedSeries
from coachd.providers.base import CalendarEntry, CalendarProvider, SyncResult

# Given the operation ("upsert", "cancel", "sync") and the series UID (None for sync): the error
# to raise, or None to let the call through.
Failure = Callable[[str, str | None], Exception | None]


class FailingCalendar(CalendarProvider):
    """Passes every call to `inner` unless `fail` names an error for it; records every call."""

    def __init__(self, inner: CalendarProvider, fail: Failure) -> None:
        self.inner = inner
        self.fail = fail
        self.calls: list[tuple[str, str | None]] = []
        # Does what the calendar it stands in front of does.
        self.capabilities = inner.capabilities

    def _check(self, operation: str, uid: str | None) -> None:
        self.calls.append((operation, uid))
        error = self.fail(operation, uid)
        if error is not None:
            raise error

    def upsert_series(self, series: BookedSeries, organizer_name: str, organizer_email: str, *,
                      dtstamp: datetime) -> None:
        self._check("upsert", series.spec.uid)
        self.inner.upsert_series(series, organizer_name, organizer_email, dtstamp=dtstamp)

    def cancel_series(self, uid: str) -> None:
        self._check("cancel", uid)
        self.inner.cancel_series(uid)

    def list_series(self) -> list[CalendarEntry]:
        return self.inner.list_series()

    def sync(self, cursor: str | None) -> SyncResult:
        self._check("sync", None)
        return self.inner.sync(cursor)
