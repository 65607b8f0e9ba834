"""The busy role in practice: requests split to a provider's limits, per-person sources as a provider."""

from __future__ import annotations

import queue
import threading
import time
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


_GRACE = 1.0  # seconds


class EachPersonBusy:
    """The busy role over per-person sources (people's own ICS files and feeds): up to `workers` people
    asked at once, each in a thread of its own.

    Everyone asked is in the answer ([] for someone the source knows nothing about) or in its failures.
    A person with no answer after `deadline_seconds` is a failure naming that limit, and everyone else is
    still answered: one slow or hostile source delays only its own person. The threads are daemon threads,
    so one still stuck when the daemon stops never holds up its exit; the source bounds its own work, so an
    abandoned thread ends on its own.
    """

    limits = BusyLimits()  # files and feeds are read whole: no window or batch limit
    # A person's own file or feed is taken as it is: coachd's sessions are not assumed to be in it.
    shows_sessions = False

    def __init__(self, source: BusySource, *, workers: int = 4, deadline_seconds: float | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.source = source
        self.workers = workers
        self.deadline_seconds = deadline_seconds

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        found: dict[str, list[Interval]] = {}
        failed: dict[str, BusySourceError] = {}
        waiting = list({p.id: p for p in people}.values())  # each person asked once
        order = [p.id for p in waiting]
        done: queue.SimpleQueue[tuple[str, list[Interval] | None, BaseException | None]] = queue.SimpleQueue()
        running: dict[str, float] = {}  # person id -> when their answer is due (monotonic)
        while waiting or running:
            while waiting and len(running) < self.workers:
                person = waiting.pop(0)
                # A little after the source's own deadline, whose error says more about what was slow.
                allowed = float("inf") if self.deadline_seconds is None else self.deadline_seconds + _GRACE
                running[person.id] = time.monotonic() + allowed
                threading.Thread(target=self._ask, args=(person.id, window, done), daemon=True,
                                 name=f"coachd-busy-{person.id}").start()
            due = min(running.values()) - time.monotonic()
            try:
                person_id, spans, error = done.get(timeout=max(due, 0.0) if due != float("inf") else None)
            except queue.Empty:
                now = time.monotonic()
                for person_id in [p for p, at in running.items() if at <= now]:
                    del running[person_id]  # its thread is abandoned; the source's own limits end it
                    failed[person_id] = self._late(person_id)
                continue
            if running.pop(person_id, None) is None:
                continue  # someone already given up on
            if isinstance(error, BusySourceError):
                failed[person_id] = error
            elif error is not None:
                raise error  # a bug, not a calendar's fault: as when asked in turn
            else:
                found[person_id] = spans or []
        # In the order asked, whatever order the answers came in: the same answer reads the same.
        return BusyTimes({p: found[p] for p in order if p in found}, {p: failed[p] for p in order if p in failed})

    def _ask(self, person_id: str, window: Interval,
             done: queue.SimpleQueue[tuple[str, list[Interval] | None, BaseException | None]]) -> None:
        try:
            done.put((person_id, self.source.busy(person_id, window), None))
        except BaseException as error:  # noqa: BLE001 - handed to the asking thread, which decides
            done.put((person_id, None, error))

    def _late(self, person_id: str) -> BusySourceError:
        where = getattr(self.source, "sources", {}).get(person_id, "their busy source")
        return BusySourceError(
            person_id, where,
            f"no answer within {self.deadline_seconds:g} s: over daemon.busy_limits.deadline_seconds "
            f"({self.deadline_seconds:g} s); raise it in the config's daemon.busy_limits if this source is "
            "only slow",
        )


class CombinedBusy:
    """Two busy providers as one (the organizer's Workspace or tenant, and people's own files):
    someone is busy when either says so, and fails when either cannot read them."""

    limits = BusyLimits()  # each part is asked within its own limits

    def __init__(self, first: BusyProvider, second: BusyProvider) -> None:
        self.parts = (first, second)
        # Whether what it answers may include coachd's own sessions (the Workspace's free/busy does).
        self.shows_sessions = any(getattr(part, "shows_sessions", False) for part in self.parts)

    def busy(self, people: Sequence[BusyPerson], window: Interval) -> BusyTimes:
        answers = [ask_within_limits(part, people, window) for part in self.parts]
        failures = {pid: error for answer in reversed(answers) for pid, error in answer.failures.items()}
        times: dict[str, list[Interval]] = {}
        for answer in answers:
            for person_id, spans in answer.items():
                times.setdefault(person_id, []).extend(spans)
        return BusyTimes({pid: _joined(s) for pid, s in times.items() if pid not in failures}, failures)
