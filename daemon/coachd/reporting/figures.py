"""Program figures for sponsor digests, reviews and `coachd report`: aggregates only.

Every figure is computed from the calendar as booked and the replies people sent, as of `now`,
for the period [start, end). Sessions count by their current start; a session is held once it
has ended and was not cancelled. Feedback counts against the sessions held in the period,
whenever the answer came. Averages over fewer than MIN_GROUP people are suppressed, so no one's
rating can be singled out, and nothing anyone wrote is ever copied into a figure.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from coachd.config import ProgramConfig
from coachd.reporting import action_items
from coachd.model.mail_kinds import FEEDBACK_KINDS, NOTES_KINDS
from coachd.model.observed import Observed
from coachd.model.periods import local_days
from coachd.plan.planner import feedback_givers
from coachd.model.types import Role, SessionKind
from coachd.reporting.privacy import MIN_GROUP
from coachd.reporting.program_index import Held, ProgramIndex
from coachd.reporting.figures_people import coaching_time, consistency, goal_check_ins, mean, recognition

# Team feedback over time is averaged over this many weeks: one week of a three-person team is
# almost always under MIN_GROUP, and a gap every week says nothing.
RATING_WINDOW_WEEKS = 4
UPCOMING = timedelta(weeks=2)

KIND_LABELS = {
    SessionKind.KICKOFF: "Kickoffs", SessionKind.GROUP: "Team sessions", SessionKind.INDIVIDUAL: "One-to-ones",
    SessionKind.CHECK_IN: "Check-ins", SessionKind.CIRCLE: "Coaches' circles",
    SessionKind.SPONSOR_REVIEW: "Sponsor reviews", SessionKind.WRAPUP: "Wrap-ups",
}  # fmt: skip


def program_figures(cfg: ProgramConfig, observed: Observed, start: datetime, end: datetime, now: datetime,
                    *, previous: tuple[datetime, datetime] | None = None) -> dict[str, Any]:
    """Every figure of the sponsor digest for [start, end); `previous` is the period the trend compares with
    (default: the same length just before)."""
    program = ProgramIndex(cfg, observed, now)
    zone = cfg.program.zone
    as_of = min(end, now)
    previous = previous or (start - (end - start), start)
    feedback = _feedback(program, start, end, now)
    before = _feedback(program, *previous, previous[1] + max(now - end, timedelta(0)))
    period_start, period_end = local_days((start, end), zone)
    figures: dict[str, Any] = {
        "period_start": period_start,
        "period_end": period_end,
        "sessions": _sessions(program, start, end),
        "teams": _teams(program, start, end),
        "feedback": feedback | {
            "previous": {k: before[k] for k in ("response_rate", "average_rating")},
            "trend": {k: _delta(feedback[k], before[k]) for k in ("response_rate", "average_rating")},
        },
        "actions": _actions(program, start, end),
        "coaching": coaching_time(program, start, end),
        "consistency": consistency(program, as_of),
        "outcomes": _outcomes(cfg, (as_of - timedelta(microseconds=1)).astimezone(zone).date()),
        "goal_check_ins": goal_check_ins(program, start, end),
        "recognition": recognition(program, as_of),
        # What comes after the period and after the moment the digest is written: a digest sent a day
        # late must not announce a session that has already happened.
        "upcoming": _upcoming(program, max(end, now)),
        "next_review": min((h.occurrence.start for h in program.occurrences
                            if h.spec.kind is SessionKind.SPONSOR_REVIEW and not h.occurrence.cancelled
                            and h.occurrence.start >= max(end, now)), default=None),
        "program_ends": cfg.program.ends,
        "history": history(program, end),
    }
    # Older admin templates read these names.
    for team in figures["teams"]:
        team |= {"sessions_planned": team["planned"], "sessions_held": team["held"]}
    figures["coaching_hours"] = [{"coach": r["coach"], "hours": r["hours"]} for r in figures["coaching"]["rows"]]
    return figures


def _counts(program: ProgramIndex, occurrences: Iterable[Held]) -> dict[str, int]:
    counts = {"planned": 0, "held": 0, "moved": 0, "cancelled": 0, "to_come": 0}
    for h in occurrences:
        counts["planned"] += 1
        if h.occurrence.cancelled:
            counts["cancelled"] += 1
            continue
        counts["held" if program.held(h) else "to_come"] += 1
        counts["moved"] += h.occurrence.moved
    return counts


def _sessions(program: ProgramIndex, start: datetime, end: datetime) -> dict[str, Any]:
    by_kind: dict[SessionKind, list[Held]] = {}
    for h in program.in_period(start, end):
        by_kind.setdefault(h.spec.kind, []).append(h)
    rows = [{"kind": kind.value, "label": KIND_LABELS[kind]} | _counts(program, by_kind[kind])
            for kind in KIND_LABELS if kind in by_kind]
    total = {key: sum(r[key] for r in rows) for key in ("planned", "held", "moved", "cancelled", "to_come")}
    return {"rows": rows, "total": total}


def _teams(program: ProgramIndex, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One row per team with group sessions in the period or in the config: a team dropped from the
    config keeps its row (named by its id) while its sessions still count in the totals."""
    cfg = program.cfg
    group_in_period = [h for h in program.in_period(start, end) if h.spec.kind is SessionKind.GROUP]
    known = {team.id: (team.name, team.coach) for team in cfg.teams}
    for h in group_in_period:
        if h.spec.team_id is not None and h.spec.team_id not in known:
            known[h.spec.team_id] = (h.spec.team_id, h.spec.host.person_id)
    rows = []
    for team_id, (name, coach_id) in known.items():
        group = [h for h in group_in_period if h.spec.team_id == team_id]
        expected, attended = _attendance(program, group)
        coach = cfg.people_by_id.get(coach_id)
        rows.append({"id": team_id, "name": name, "coach": coach.name if coach else coach_id}
                    | _counts(program, group)
                    | {"expected": expected, "attended": attended,
                       "attendance_rate": round(attended / expected, 3) if expected else None})
    return rows


def _attendance(program: ProgramIndex, occurrences: Iterable[Held]) -> tuple[int, int]:
    """(coachee places, coachees there) over the held occurrences: the coach is always there."""
    expected = attended = 0
    for h in occurrences:
        if not program.held(h):
            continue
        coachees = {a.person_id for a in h.spec.attendees if a.role is Role.COACHEE}
        expected += len(coachees)
        attended += len(coachees - program.absent(h))
    return expected, attended


def _feedback(program: ProgramIndex, start: datetime, end: datetime, as_of: datetime) -> dict[str, Any]:
    """Feedback on the sessions of [start, end) as it stood at `as_of`: the previous period is read as
    it stood the same time after its end, so late answers never tilt the trend."""
    asked: set[tuple[str, str]] = set()
    for h in program.in_period(start, end):
        # Counted once the request has gone out, so the rate is over requests people really got.
        if not h.occurrence.cancelled and h.occurrence.end + program.feedback_after <= as_of:
            asked.update((h.occurrence.session_id, a.person_id) for a in feedback_givers(h.spec))
    answers = [r for r in program.answers
               if r.request_kind in FEEDBACK_KINDS and (r.session_id, r.person_id) in asked
               and r.received_at <= as_of]
    ratings = [(r.person_id, r.rating) for r in answers if r.rating is not None]
    people = len({p for p, _ in ratings})
    suppressed = people < MIN_GROUP
    return {
        "requests": len(asked), "responses": len(answers),
        "response_rate": round(len(answers) / len(asked), 3) if asked else None,
        "average_rating": mean([r for _, r in ratings]) if not suppressed else None,
        "people": people, "suppressed": suppressed and bool(ratings),
    }


def _actions(program: ProgramIndex, start: datetime, end: datetime) -> dict[str, int]:
    items = action_items.track(_notes_entries(program))
    as_of = min(end, program.now)
    day = as_of.astimezone(program.cfg.program.zone).date()
    return {
        "opened": sum(1 for i in items if start <= i.opened_at < end),
        "done": sum(1 for i in items if i.done_at is not None and start <= i.done_at < end),
        "open": sum(1 for i in items if i.open_at(as_of)),
        "overdue": sum(1 for i in items if i.overdue_at(as_of, day)),
    }


def _notes_entries(program: ProgramIndex) -> Iterator[action_items.NotesEntry]:
    for reply in program.answers:
        if reply.request_kind not in NOTES_KINDS or not reply.session_id:
            continue
        uid = reply.session_id.rpartition("/")[0]
        actions = reply.payload.get("actions") or ()
        done = reply.payload.get("done") or ()
        yield action_items.NotesEntry(uid, reply.received_at, tuple(actions), tuple(str(d) for d in done))  # type: ignore[arg-type]


def _outcomes(cfg: ProgramConfig, day: date) -> list[dict[str, Any]]:
    rows = []
    for outcome in cfg.program.outcomes:
        latest = outcome.latest(day)
        rows.append({
            "text": outcome.text, "baseline": outcome.baseline, "target": outcome.target, "unit": outcome.unit,
            "latest": latest[1] if latest else None, "measured_on": latest[0] if latest else None,
            "progress": outcome.progress(day),
        })
    return rows


def _upcoming(program: ProgramIndex, end: datetime) -> list[dict[str, Any]]:
    """Sessions of the two weeks after the period, one-to-ones aside (a sponsor needs the shape, not every slot)."""
    found = [h for h in program.occurrences
             if end <= h.occurrence.start < end + UPCOMING and not h.occurrence.cancelled
             and h.spec.kind not in (SessionKind.INDIVIDUAL, SessionKind.CHECK_IN)]
    found.sort(key=lambda h: (h.occurrence.start, h.spec.title))
    return [{"title": h.spec.title, "kind": h.spec.kind.value, "start": h.occurrence.start, "end": h.occurrence.end}
            for h in found[:10]]


def history(program: ProgramIndex, end: datetime) -> dict[str, Any]:
    """Attendance and feedback rating per team, week by week from the program's start to `end`."""
    cfg = program.cfg
    zone = cfg.program.zone
    weeks: list[datetime] = []
    week = datetime.combine(cfg.program.starts, time(0), zone)
    while week < end:
        weeks.append(week)
        week = datetime.combine(cfg.program.starts + timedelta(weeks=len(weeks)), time(0), zone)
    teams = []
    for team in cfg.teams:
        by_week: list[list[Held]] = [[] for _ in weeks]
        for h in program.group_by_team.get(team.id, ()):
            index = bisect_right(weeks, h.occurrence.start) - 1
            if 0 <= index and h.occurrence.start < weeks[index] + timedelta(weeks=1):
                by_week[index].append(h)
        attendance: list[float | None] = []
        rating: list[float | None] = []
        for week, group in zip(weeks, by_week):
            expected, attended = _attendance(program, group)
            attendance.append(round(attended / expected, 3) if expected else None)
            week_end = week + timedelta(weeks=1)
            rating.append(_team_rating(program, team.id, week_end - timedelta(weeks=RATING_WINDOW_WEEKS), week_end))
        teams.append({"id": team.id, "name": team.name, "attendance": attendance, "rating": rating})
    return {"weeks": [w.date() for w in weeks], "teams": teams}


def _team_rating(program: ProgramIndex, team_id: str, start: datetime, end: datetime) -> float | None:
    """The team's sessions' average rating over [start, end), if at least MIN_GROUP people gave one."""
    times, ratings = program.ratings_by_team.get(team_id, ((), ()))
    window = ratings[bisect_left(times, start):bisect_left(times, end)]
    if len({person for person, _ in window}) < MIN_GROUP:
        return None
    return mean([rating for _, rating in window])


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 3)

