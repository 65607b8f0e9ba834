"""The busy role in practice: requests split to a provider's limits, per-person sources as a provider."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coachd.model.types import Interval
from coachd.providers.base import (
    BusyLimits,
    BusyPerson,
    BusyProvider,
    BusySource,
    BusySourceError,
    BusyTimes,
    CredentialsExpired,
    ProviderError,
)


@dataclass(frozen=True)
class BusyRequest:
    """One call a provider can take: these people over this window."""

    people: tuple[BusyPerson, ...]
    window: Interval


def split_requests(people: Sequence[BusyPerson], window: Interval, limits: BusyLimits) -> list[BusyRequest]:
    """Requests that together ask for every person over every instant of `window` exactly once,
    none longer than `limits.max_window` nor for more than `limits.max_batch` people."""
    if limits.max_window is not None and limits.max_window.total_seconds() <= 0:
        raise ValueError(f"max_window must be positive, got {limits.max_window}")
    if limits.max_batch is not None and limits.max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {limits.max_batch}")
    if not people or window.end <= window.start:
        return []
    windows: list[Interval] = []
    start = window.start
    while start < window.end:
        end = window.end if limits.max_window is None else min(window.end, start + limits.max_window)
        windows.append(Interval(start, end))
        start = end
    size = limits.max_batch or len(people)
    batches = [tuple(people[i:i + size]) for i in range(0, len(people), size)]
    return [BusyRequest(batch, part) for part in windows for batch in batches]


def ask_within_limits(provider: BusyProvider, people: Sequence[BusyPerson], window: Interval,
                      call: Callable[..., BusyTimes] | None = None) -> BusyTimes:
    """Busy times of `people` over `window`, asked in as many requests as the provider's limits need.

    `call(provider.busy, people, window)` makes each request (the role's health and retry policy;
    default: a plain call). A person who fails in any request is a failure of the whole answer (their
    times are partial), and so is everyone of a request that fails as a whole; CredentialsExpired is
    raised, since no other request can do better. Intervals cut at a request's edge are joined again.
    """
    times: dict[str, list[Interval]] = {}
    failures: dict[str, ProviderError] = {}
    for request in split_requests(people, window, provider.limits):
        try:
            answer = call(provider.busy, request.people, request.window) if call else \
                provider.busy(request.people, request.window)
        except CredentialsExpired:
            raise
        except ProviderError as error:
            failures.update({p.id: error for p in request.people if p.id not in failures})
            continue
        failures.update({pid: error for pid, error in answer.failures.items() if pid not in failures})
        for person_id, spans in answer.items():
            times.setdefault(person_id, []).extend(spans)
    return BusyTimes({pid: _joined(spans) for pid, spans in times.items() if pid not in failures}, failures)


def _joined(spans: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for span in sorted(spans):
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


class EachPersonBusy:
    """The busy role over per-person sources (people's own ICS files and feeds): each person asked in turn.

    Everyone asked is in the answer ([] for someone the source knows nothing about) or in its failures.
    """

    limits = BusyLimits()  # files and feeds are read whole: no window or batch limit

    def __init__(self, source: BusySource) -> None:
        self.source = source

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        answer = BusyTimes()
        for person in people:
            try:
                answer[person.id] = self.source.busy(person.id, window)
            except BusySourceError as error:
                answer.failures[person.id] = error
        return answer


class CombinedBusy:
    """Two busy providers as one (the organizer's Workspace or tenant, and people's own files):
    someone is busy when either says so, and fails when either cannot read them."""

    limits = BusyLimits()  # each part is asked within its own limits

    def __init__(self, first: BusyProvider, second: BusyProvider) -> None:
        self.parts = (first, second)

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        answers = [ask_within_limits(part, people, window) for part in self.parts]
        failures = {pid: error for answer in reversed(answers) for pid, error in answer.failures.items()}
        times: dict[str, list[Interval]] = {}
        for answer in answers:
            for person_id, spans in answer.items():
                times.setdefault(person_id, []).extend(spans)
        return BusyTimes({pid: _joined(s) for pid, s in times.items() if pid not in failures}, failures)
