"""The pure planner: config + observed state + now -> the actions due now."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from daemon.core import series as series_mod
from daemon.core.actions import Action, BookSeries, QueueMail
from daemon.core.observed import Observed
from daemon.core.repair import Conflict, repair
from daemon.core.types import UTC, Attendee, BookedSeries, Occurrence, Role, SessionKind, ical_utc

if TYPE_CHECKING:
    from daemon.config import ProgramConfig

FEEDBACK_KINDS = frozenset({"feedback-request", "feedback-reminder"})
NOTES_KINDS = frozenset({"notes-request"})
# How long after its due time an email still makes sense; past that a late daemon skips it.
STALE_AFTER = {
    "agenda": None,  # until the session starts
    "notes-request": timedelta(days=7),
    "summary": timedelta(days=14),
    "feedback-request": timedelta(days=7),
    "feedback-reminder": timedelta(days=7),
    "goal-check-in": timedelta(days=7),
    "invitation": None,
    "update": None,
}


@dataclass(frozen=True)
class Plan:
    """The actions due now, when the next one falls due, and what could not be planned."""

    actions: list[Action]
    next_due: datetime | None
    problems: list[str] = field(default_factory=list)
    # Occurrences left in place although someone cannot make it: shown to admins, not fixed by a retry.
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass(frozen=True)
class MailIntent:
    mail: QueueMail
    valid_until: datetime | None


def plan(cfg: ProgramConfig, observed: Observed, now: datetime, *, booking: bool = True,
         session_mail: bool = True, program_mail: bool = True) -> Plan:
    """Everything that should have happened by `now` and has not.

    Level-triggered: the result depends only on the inputs, so running it again
    after the actions were applied yields nothing new.
    """
    actions: list[Action] = []
    problems: list[str] = []
    conflicts: list[Conflict] = []
    bookings = {key: b.series for key, b in observed.bookings.items()}
    booked_at = {key: b.booked_at for key, b in observed.bookings.items()}
    if booking:
        for action_or_problem in _booking_actions(cfg, observed, bookings, now, conflicts):
            if isinstance(action_or_problem, str):
                problems.append(action_or_problem)
            else:
                actions.append(action_or_problem)
                bookings[action_or_problem.series.spec.key] = action_or_problem.series
                booked_at.setdefault(action_or_problem.series.spec.key, now)
    intents: list[MailIntent] = []
    if session_mail:
        for key, booked in bookings.items():
            intents.extend(_series_mail(cfg, observed, booked, booked_at[key], now))
    if program_mail:
        intents.extend(_program_mail(cfg))
    next_due: datetime | None = None
    for intent in intents:
        mail = intent.mail
        if mail.key in observed.queued:
            continue
        if mail.due <= now:
            if intent.valid_until is None or now < intent.valid_until:
                actions.append(mail)
        elif next_due is None or mail.due < next_due:
            next_due = mail.due
    actions.sort(key=lambda a: (0, a.key) if isinstance(a, BookSeries) else (1, a.due, a.key))
    return Plan(actions, next_due, problems, conflicts)


def _booking_actions(cfg: ProgramConfig, observed: Observed, bookings: dict[str, BookedSeries],
                     now: datetime, conflicts: list[Conflict]) -> Iterator[BookSeries | str]:
    if now >= datetime.combine(cfg.program.ends, time(23, 59), cfg.program.zone):
        return
    placed = list(bookings.values())
    timelines = series_mod.timelines_for(cfg, observed.busy, placed)
    rules = series_mod.repair_rules(cfg, now)
    for need in series_mod.needs(cfg):
        current = bookings.get(need.key)
        if current is None:
            result = series_mod.place(cfg, need, timelines, placed, now)
            if isinstance(result, series_mod.Unplaced):
                yield f"{result.key}: {result.reason}"
                continue
            placed.append(result)
            yield BookSeries(result, "new series")
            continue
        reason = None
        if _people_changed(current, need):
            spec = current.spec
            current = current.bumped(spec=type(spec)(**{**spec.__dict__, "host": need.host,
                                                         "attendees": need.attendees, "title": need.title}))
            timelines.book(current)
            reason = "attendees changed in the config"
        overrides, found = repair(current, timelines, rules)
        conflicts.extend(found)
        if overrides is not None:
            moved = len(set(overrides) ^ set(current.overrides))
            current = current.bumped(overrides=overrides) if reason is None else replace(current, overrides=overrides)
            timelines.book(current)
            reason = ", ".join(filter(None, (reason, f"{moved} occurrence(s) moved to fit everyone's hours and calendars")))
        if reason is not None:
            placed = [current if s.spec.key == need.key else s for s in placed]
            yield BookSeries(current, reason)


def _people_changed(current: BookedSeries, need: series_mod.SeriesNeed) -> bool:
    def ids(people: tuple[Attendee, ...]) -> list[tuple[str, str, str]]:
        return [(a.person_id, a.email, a.timezone) for a in people]
    return ids(current.spec.everyone()) != ids(need.everyone()) or current.spec.title != need.title


def _series_mail(cfg: ProgramConfig, observed: Observed, booked: BookedSeries,
                 booked_at: datetime, now: datetime) -> Iterator[MailIntent]:
    spec = booked.spec
    program = cfg.program.id
    kind = "invitation" if booked.sequence == 0 else "update"
    for person in spec.everyone():
        yield MailIntent(QueueMail(program, kind, person, f"{spec.uid}/seq{booked.sequence}", booked_at,
                                   series_key=spec.key), None)
    # Only occurrences whose mail can be due around now matter; a year of them every tick
    # would make each tick cost the whole program. The first wholly future one is kept
    # so that the plan still says when its mail falls due.
    tail = _mail_tail(cfg)
    for occurrence in booked.occurrences():
        if occurrence.cancelled or occurrence.end + tail < now:
            continue
        yield from _session_mail(cfg, observed, booked, occurrence)
        if occurrence.start - cfg.mail.agenda.before > now:
            break


def _mail_tail(cfg: ProgramConfig) -> timedelta:
    """How long after a session's end some mail about it may still be due or valid."""
    mail = cfg.mail
    latest = max(mail.notes.after, mail.summary.after, mail.feedback.after + mail.feedback.remind)
    return latest + max(v for v in STALE_AFTER.values() if v is not None)


def _session_mail(cfg: ProgramConfig, observed: Observed, booked: BookedSeries,
                  occurrence: Occurrence) -> Iterator[MailIntent]:
    spec = booked.spec
    program = cfg.program.id
    sid = occurrence.session_id
    mail = cfg.mail

    def intent(kind: str, person: Attendee, due: datetime, valid_until: datetime | None) -> MailIntent:
        return MailIntent(QueueMail(program, kind, person, sid, due, series_key=spec.key,
                                    occurrence=occurrence), valid_until)

    for person in spec.everyone():
        yield intent("agenda", person, occurrence.start - mail.agenda.before, occurrence.start)
    notes_due = occurrence.end + mail.notes.after
    yield intent("notes-request", spec.host, notes_due, notes_due + STALE_AFTER["notes-request"])
    notes = observed.replies_to(sid, NOTES_KINDS, spec.host.person_id)
    summary_due = occurrence.end + mail.summary.after
    if notes:
        summary_due = max(notes_due, min(summary_due, notes[0].received_at))
    for person in spec.everyone():
        yield intent("summary", person, summary_due, summary_due + STALE_AFTER["summary"])
    feedback_due = occurrence.end + mail.feedback.after
    for person in _feedback_givers(booked):
        yield intent("feedback-request", person, feedback_due, feedback_due + STALE_AFTER["feedback-request"])
        if not observed.replies_to(sid, FEEDBACK_KINDS, person.person_id):
            remind_due = feedback_due + mail.feedback.remind
            yield intent("feedback-reminder", person, remind_due, remind_due + STALE_AFTER["feedback-reminder"])


def _feedback_givers(booked: BookedSeries) -> tuple[Attendee, ...]:
    """Feedback is asked of everyone but the session's host; sponsors review, they are not coached."""
    if booked.spec.kind is SessionKind.SPONSOR_REVIEW:
        return ()
    return tuple(a for a in booked.spec.everyone() if a.person_id != booked.spec.host.person_id)


def _program_mail(cfg: ProgramConfig) -> Iterator[MailIntent]:
    """Mail on the program's own cadence: goal check-ins for coachees and sponsor digests."""
    program = cfg.program
    end = datetime.combine(program.ends, time(23, 59), program.zone)
    coachees = [series_mod.attendee(cfg, p.id, Role.COACHEE) for p in cfg.coachees()]
    n = 1
    while True:
        day = program.starts + cfg.mail.goals.every * n
        if datetime.combine(day, time(0), program.zone) > end:
            break
        for person in coachees:
            due = datetime.combine(day, time(9), person.zone).astimezone(UTC)
            yield MailIntent(QueueMail(program.id, "goal-check-in", person, f"goals-{n}", due),
                             due + STALE_AFTER["goal-check-in"])
        n += 1
    recipients = [series_mod.attendee(cfg, p, Role.SPONSOR) for p in cfg.digest.to]
    n = 1
    while True:
        period_start = program.starts + cfg.digest.every * (n - 1)
        period_end = program.starts + cfg.digest.every * n
        if datetime.combine(period_start, time(0), program.zone) > end:
            break
        span = (datetime.combine(period_start, time(0), program.zone).astimezone(UTC),
                datetime.combine(period_end, time(0), program.zone).astimezone(UTC))
        for person in recipients:
            due = datetime.combine(period_end, time(8), person.zone).astimezone(UTC)
            # A missed digest goes out once when the daemon is back, until the next one is due.
            valid_until = due + cfg.digest.every
            yield MailIntent(QueueMail(program.id, "digest", person, f"digest-{ical_utc(span[0])}", due,
                                       period=span), valid_until)
        n += 1
