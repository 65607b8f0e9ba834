"""Program figures about people: coaching time, one-to-one consistency, goal check-ins, recognition.

Split from coachd.reporting.figures, which indexes the program once (`program_index.ProgramIndex`) and passes it here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from coachd.plan.planner import goal_check_in_due
from coachd.reporting.privacy import MIN_GROUP
from coachd.model.mail_kinds import MailKind
from coachd.model.types import SessionKind
from coachd.reporting.program_index import Held, ProgramIndex

ONE_TO_ONE = frozenset({SessionKind.INDIVIDUAL, SessionKind.CHECK_IN})
# A coachee is behind when their last one-to-one is more than a week past the cadence.
BEHIND_SLACK = timedelta(weeks=1)
# Recognition needs enough sessions to mean something, and names at most this many people.
RECOGNISE_AFTER = 4
RECOGNISE_AT_MOST = 3
CONSISTENT_SHARE = 0.9


# Sessions a coach coaches in: not the coaches' own circle, not the sponsor review.
COACHING = frozenset({SessionKind.KICKOFF, SessionKind.GROUP, SessionKind.INDIVIDUAL, SessionKind.CHECK_IN,
                      SessionKind.WRAPUP})


def coaching_time(program: ProgramIndex, start: datetime, end: datetime) -> dict[str, Any]:
    """Hours each coach spent coaching in held sessions, against the share of their working hours
    the program targets. Working hours count the program's working days of the period that have
    passed, in the coach's own days and hours, blackout days aside."""
    cfg = program.cfg
    target = cfg.digest.coaching_target
    blackout = cfg.program.blackout_days()
    zone = cfg.program.zone
    last = min(end, program.now).astimezone(zone) - timedelta(microseconds=1)
    days = [d for d in _days(start.astimezone(zone).date(), last.date() + timedelta(days=1))
            if cfg.program.starts <= d <= cfg.program.ends and d not in blackout]
    rows = []
    for coach in cfg.coaches():
        hours = sum((h.occurrence.end - h.occurrence.start) / timedelta(hours=1)
                    for h in program.in_period(start, end)
                    if h.spec.kind in COACHING and program.held(h) and _coached(program, h, coach.id))
        daily = (datetime.combine(date.min, coach.hours.end) - datetime.combine(date.min, coach.hours.start))
        working = sum(daily / timedelta(hours=1) for d in days if d.weekday() in coach.days)
        share = round(hours / working, 3) if working else None
        rows.append({"id": coach.id, "coach": coach.name, "hours": round(hours, 2), "working_hours": round(working, 1),
                     "share": share, "on_target": None if share is None or target is None else share >= target})
    return {"target": target, "rows": rows}


def _coached(program: ProgramIndex, h: Held, person_id: str) -> bool:
    """The coach was there and so was at least one coachee: a one-to-one its coachee declined is no coaching."""
    there = {a.person_id for a in h.spec.everyone()} - program.absent(h)
    return person_id in there and len(there) > 1


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((end - first).days)]


def consistency(program: ProgramIndex, as_of: datetime) -> dict[str, Any]:
    """Days since each coachee's last one-to-one: when, never what was said."""
    cfg = program.cfg
    zone = cfg.program.zone
    cadence = cfg.sessions.individual.every
    today = as_of.astimezone(zone).date()
    started = datetime.combine(cfg.program.starts, time(0), zone)
    team_of = {m: t.name for t in cfg.teams for m in t.members}
    last: dict[str, datetime] = {}
    for h in program.occurrences:
        if h.spec.kind not in ONE_TO_ONE or h.occurrence.cancelled or h.occurrence.end > as_of:
            continue
        for person in _attended_coachees(program, h):
            if person not in last or h.occurrence.start > last[person]:
                last[person] = h.occurrence.start
    rows = []
    for coachee in cfg.coachees():
        seen = last.get(coachee.id)
        days = (today - seen.astimezone(zone).date()).days if seen is not None else None
        behind = (days > (cadence + BEHIND_SLACK).days if days is not None
                  else as_of - started > cadence + BEHIND_SLACK)
        rows.append({"id": coachee.id, "coachee": coachee.name, "team": team_of.get(coachee.id, ""),
                     "last": seen.astimezone(zone).date() if seen else None, "days_since": days, "behind": behind})
    return {"cadence_days": cadence.days, "rows": rows}


def _attended_coachees(program: ProgramIndex, h: Held) -> set[str]:
    coachees = {a.person_id for a in h.spec.everyone() if a.person_id != h.spec.host.person_id}
    return coachees - program.absent(h)


def goal_check_ins(program: ProgramIndex, start: datetime, end: datetime) -> dict[str, Any]:
    """Goal check-ins sent in the period, how many coachees answered them (whenever they did), and
    their average self-assessment."""
    cfg = program.cfg
    asked: set[tuple[str, str]] = set()
    n = 1
    while cfg.program.starts + cfg.mail.goals.every * n <= cfg.program.ends:
        for person in cfg.coachees():
            due = goal_check_in_due(cfg, n, person.zone)
            if start <= due < end and due <= program.now:
                asked.add((person.id, f"goals-{n}"))
        n += 1
    answers = [r for r in program.answers if r.request_kind == MailKind.GOAL_CHECK_IN
               and ((r.person_id, r.request_ref) in asked
                    or (r.request_ref is None and start <= r.received_at < end))]  # stored before requests were kept
    rated = [r for r in answers if r.rating is not None]
    suppressed = len({r.person_id for r in rated}) < MIN_GROUP
    return {"asked": len(asked), "answered": len(answers),
            "average": None if suppressed else mean([r.rating for r in rated if r.rating is not None]),
            "suppressed": suppressed and bool(rated)}


def recognition(program: ProgramIndex, as_of: datetime) -> dict[str, Any]:
    """Coachees to recognise, named only where the program's config allows it: the most consistent
    (the highest share of their sessions attended, at least 90%) and the most improved (the largest
    rise in their own goal check-in rating)."""
    if not program.cfg.program.recognise_people:
        return {"allowed": False, "most_consistent": [], "most_improved": []}
    names = {p.id: p.name for p in program.cfg.coachees()}
    places: dict[str, int] = dict.fromkeys(names, 0)
    present: dict[str, int] = dict.fromkeys(names, 0)
    for h in program.occurrences:
        if h.spec.kind not in (SessionKind.GROUP, *ONE_TO_ONE) or not program.held(h) or h.occurrence.end > as_of:
            continue
        there = _attended_coachees(program, h)
        for a in h.spec.everyone():
            if a.person_id in places:
                places[a.person_id] += 1
                present[a.person_id] += a.person_id in there
    shares = {p: present[p] / places[p] for p in names if places[p] >= RECOGNISE_AFTER}
    best = max(shares.values(), default=0.0)
    consistent = [p for p, s in shares.items() if s == best and s >= CONSISTENT_SHARE]
    ratings: dict[str, list[int]] = {}
    for r in program.answers:
        if (r.request_kind == MailKind.GOAL_CHECK_IN and r.rating is not None and r.received_at < as_of
                and r.person_id in names):
            ratings.setdefault(r.person_id, []).append(r.rating)
    rises = {p: rs[-1] - rs[0] for p, rs in ratings.items() if len(rs) >= 2}
    top = max(rises.values(), default=0)
    improved = [p for p, rise in rises.items() if rise == top and rise > 0]
    return {"allowed": True, "most_consistent": _named(consistent, names), "most_improved": _named(improved, names)}


def mean(values: list[int] | list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _named(ids: list[str], names: dict[str, str]) -> list[str]:
    return sorted(names[i] for i in ids)[:RECOGNISE_AT_MOST]
