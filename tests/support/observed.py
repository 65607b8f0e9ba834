"""Reading booked occurrences out of an Observed value."""

from __future__ import annotations


def occurrences(observed, kind):
    return [o for b in observed.bookings.values() if b.series.spec.kind is kind for o in b.series.occurrences()]
