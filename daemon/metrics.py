"""Digest figures: aggregates only, averages over small groups suppressed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from daemon.config import ProgramConfig
from daemon.core.observed import Observed, ReplyFact, latest_answers
from daemon.core.planner import FEEDBACK_KINDS
from daemon.core.types import SessionKind

# Averages over fewer people than this are not shown, so no one's rating can be singled out.
MIN_GROUP = 3


def digest_figures(cfg: ProgramConfig, observed: Observed, start: datetime, end: datetime,
                   now: datetime) -> dict[str, Any]:
    """Sessions, attendance proxies, feedback and coaching hours for the period [start, end)."""
    teams: dict[str, dict[str, Any]] = {t.id: {"name": t.name, "sessions_planned": 0, "sessions_held": 0,
                                              "attendance_rate": None} for t in cfg.teams}
    hours: dict[str, float] = {c.id: 0.0 for c in cfg.coaches()}
    requests = 0
    upcoming = []
    for booking in observed.bookings.values():
        spec = booking.series.spec
        for occurrence in booking.series.occurrences():
            if start <= occurrence.start < end:
                if spec.team_id in teams and spec.kind is SessionKind.GROUP:
                    teams[spec.team_id]["sessions_planned"] += 1
                    if not occurrence.cancelled and occurrence.end <= now:
                        teams[spec.team_id]["sessions_held"] += 1
                if not occurrence.cancelled and occurrence.end <= now and spec.host.person_id in hours:
                    hours[spec.host.person_id] += (occurrence.end - occurrence.start) / timedelta(hours=1)
                if spec.kind is not SessionKind.SPONSOR_REVIEW and not occurrence.cancelled:
                    givers = [a for a in spec.everyone() if a.person_id != spec.host.person_id]
                    requests += len(givers)
            if end <= occurrence.start < end + timedelta(weeks=2) and spec.kind is SessionKind.GROUP:
                upcoming.append({"title": spec.title, "start": occurrence.start, "end": occurrence.end,
                                 "kind": spec.kind.value})
    ratings = _ratings(observed, start, end)
    responses = sum(1 for _ in _feedback_in(observed, start, end))
    suppressed = len({person for person, _ in ratings}) < MIN_GROUP
    average = None if suppressed or not ratings else round(sum(r for _, r in ratings) / len(ratings), 2)
    return {
        "period_start": start.astimezone(cfg.program.zone).date(),
        "period_end": (end - timedelta(seconds=1)).astimezone(cfg.program.zone).date(),
        "teams": list(teams.values()),
        "feedback": {"responses": responses, "requests": requests, "average_rating": average,
                     "suppressed": suppressed},
        "coaching_hours": [{"coach": cfg.people_by_id[c].name if c in cfg.people_by_id else c, "hours": round(h, 1)}
                           for c, h in hours.items()],
        "upcoming": sorted(upcoming, key=lambda u: u["start"])[:10],
        "outcomes": list(cfg.program.outcomes),
    }


def _feedback_in(observed: Observed, start: datetime, end: datetime) -> Iterator[ReplyFact]:
    for reply in latest_answers(observed.replies):
        if reply.request_kind in FEEDBACK_KINDS and start <= reply.received_at < end:
            yield reply


def _ratings(observed: Observed, start: datetime, end: datetime) -> list[tuple[str, int]]:
    return [(r.person_id, r.rating) for r in _feedback_in(observed, start, end) if r.rating is not None]
