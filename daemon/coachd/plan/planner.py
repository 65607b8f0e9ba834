"""The pure planner: config + observed state + now -> the actions due now."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from coachd.plan import series as series_mod
from coachd.model.actions import Action, BookSeries, QueueMail
from coachd.model.mail_kinds import FEEDBACK_KINDS, NOTES_KINDS, MailKind
from coachd.model.observed import Observed
from coachd.model.periods import digest_periods
from coachd.plan.blackouts import keep_off_blackouts
from coachd.plan.mail_times import MAX_SHIFT, in_working_hours
from coachd.plan.own_sessions import without_own_sessions
from coachd.plan.slots import Availability
from coachd.plan.repair import RECHECK_AFTER_RECOVERY, Conflict, repair
from coachd.model.types import UTC, Attendee, BookedSeries, Occurrence, Role, SeriesSpec, SessionKind, ical_utc

if TYPE_CHECKING:
    from coachd.config import ProgramConfig

# How long after its due time an email still makes sense; past that a late daemon skips it.
STALE_AFTER: dict[MailKind, timedelta | None] = {
    MailKind.AGENDA: None,  # until the session starts
    MailKind.CHECK_IN: None,
    MailKind.CANCELLATION: None,
    MailKind.NOTES_REQUEST: timedelta(days=7),
    MailKind.SUMMARY: timedelta(days=14),
    MailKind.FEEDBACK_REQUEST: timedelta(days=7),
    MailKind.FEEDBACK_REMINDER: timedelta(days=7),
    MailKind.GOAL_CHECK_IN: timedelta(days=7),
    MailKind.INVITATION: None,
    MailKind.UPDATE: None,
    MailKind.REVIEW: None,  # until the review starts
    MailKind.WRAP_UP: timedelta(days=14),
}
# Notes that come after their summary went out are sent on until a week after the series' next session,
# and never later than this after the session (a series that meets every few weeks, or has no next one).
LATE_NOTES_WINDOW = timedelta(weeks=1)
LATE_NOTES_LAST = timedelta(weeks=5)
# The subject of a summary sent again with late notes: the session's id and this.
UPDATED_SUMMARY = "/updated"
# The sponsor-review pack arrives this long before the review, with time to read it.
REVIEW_PACK_BEFORE = timedelta(days=3)
# The final report waits this long after the program's last day, for the wrap-up surveys.
WRAP_UP_REPORT_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class Plan:
    """The actions due now, when the next one falls due, and what could not be planned."""

    actions: list[Action]
    next_due: datetime | None
    problems: list[str] = field(default_factory=list)
    # Occurrences left in place although someone cannot make it: shown to admins, not fixed by a retry.
    conflicts: list[Conflict] = field(default_factory=list)
    # Cancellations waiting for an admin's confirmation.
    held: list[Hold] = field(default_factory=list)
    # Series not booked (or not changed) because someone's busy times were never read.
    waiting: list[Waiting] = field(default_factory=list)


@dataclass(frozen=True)
class Waiting:
    """Someone whose busy times were never read: the series they are in wait for them (unknown is not free)."""

    person_id: str
    error: str
    series: tuple[str, ...]  # keys of the series not booked, or whose people change waits, because of them

    def describe(self) -> str:
        if not self.series:  # their series were booked before they had a busy calendar to read
            return (f"waiting for busy times of {self.person_id}: {self.error}; their booked sessions are not "
                    "checked against them until they are read")
        return (f"waiting for busy times of {self.person_id}: {self.error}; not booked until they are read: "
                f"{', '.join(self.series)}")


def unknown_busy(cfg: ProgramConfig, observed: Observed) -> dict[str, str]:
    """Person -> why, for everyone whose busy times were never read: those the sync could not read, and
    (when the store says who was read) people with a `busy:` calendar it has not read yet."""
    unknown = {pid: error for pid, error in observed.busy_unknown.items() if pid in cfg.people_by_id}
    if observed.busy_read is not None:
        for person in cfg.people:
            if person.busy and person.id not in observed.busy_read:
                unknown.setdefault(person.id, "not read yet")
    return unknown


@dataclass(frozen=True)
class MailIntent:
    mail: QueueMail
    valid_until: datetime | None


def plan(cfg: ProgramConfig, observed: Observed, now: datetime, *, booking: bool = True,
         session_mail: bool = True, program_mail: bool = True,
         calendar_invites: bool | Callable[[str], bool] = False) -> Plan:
    """Everything that should have happened by `now` and has not.

    Level-triggered: the result depends only on the inputs, so running it again
    after the actions were applied yields nothing new. `calendar_invites`: the organizer's
    calendar invites attendees itself (True: all of them; or, by email, which ones: its
    capabilities' `invites`), so coachd queues no invitation, update or cancellation of its own
    to those: one invitation path per attendee, never two.
    """
    actions: list[Action] = []
    problems: list[str] = []
    conflicts: list[Conflict] = []
    held: list[Hold] = []
    waiting: dict[str, list[str]] = {}
    bookings = {key: b.series for key, b in observed.bookings.items()}
    booked_at = {key: b.booked_at for key, b in observed.bookings.items()}
    if booking:
        for action_or_problem in _booking_actions(cfg, observed, bookings, now, conflicts, held, waiting):
            if isinstance(action_or_problem, str):
                problems.append(action_or_problem)
            else:
                actions.append(action_or_problem)
                bookings[action_or_problem.series.spec.key] = action_or_problem.series
                booked_at.setdefault(action_or_problem.series.spec.key, now)
    intents: list[MailIntent] = []
    if session_mail:
        for key, booked in bookings.items():
            intents.extend(_series_mail(cfg, observed, booked, booked_at[key], now, calendar_invites))
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
    # Bookings keep the planner's order (an ending series gives up its key before its successor takes
    # it); mail goes by due time. The sort is stable.
    actions.sort(key=lambda a: (0, "", "") if isinstance(a, BookSeries) else (1, a.due, a.key))
    # Once the program has ended nothing is booked any more, so nobody is waited for.
    unknown = {} if now >= _program_end(cfg) else unknown_busy(cfg, observed)
    return Plan(actions, next_due, problems, conflicts, held,
                [Waiting(pid, unknown[pid], tuple(waiting.get(pid, ()))) for pid in sorted(unknown)])


def _program_end(cfg: ProgramConfig) -> datetime:
    return datetime.combine(cfg.program.ends, time(23, 59), cfg.program.zone)


def _booking_actions(cfg: ProgramConfig, observed: Observed, bookings: dict[str, BookedSeries],
                     now: datetime, conflicts: list[Conflict], held: list[Hold],
                     blocked: dict[str, list[str]]) -> Iterator[BookSeries | str]:
    """`blocked` gets, per person whose busy times were never read, the series that wait for them."""
    if now >= _program_end(cfg):
        return
    wanted = series_mod.needs(cfg, observed.states)
    unknown = unknown_busy(cfg, observed)
    waiting: set[str] = set()  # series whose attendee changes are part of a held pass
    ending = list(_endings(cfg, observed, bookings, {n.key: n for n in wanted}, now, held, waiting))
    yield from ending
    for action in ending:
        bookings[action.series.spec.key] = action.series
    placed = [b for b in bookings.values() if not b.cancelled]
    # Calendars that show coachd's own sessions would make each series collide with itself; the timelines
    # count booked sessions apart (for every series but the one being placed), so their copy is cut out.
    busy = without_own_sessions(observed.busy, placed) if observed.busy_shows_sessions else observed.busy
    timelines = series_mod.timelines_for(cfg, busy, placed)
    rules = series_mod.repair_rules(cfg, now)
    # Someone's busy source was read again after failing: their series are checked over their whole life,
    # since what was missed may collide anywhere, not only within repair's usual lookahead.
    rechecked = {pid for pid, at in observed.busy_recovered.items() if now - at < RECHECK_AFTER_RECOVERY}
    whole_life = series_mod.repair_rules(cfg, now, None) if rechecked else rules
    for need in wanted:
        current = bookings.get(need.key)
        if current is not None and current.spec.ended:
            # Ended by coachd (its team left, a coachee's check-ins stopped) and wanted again: that
            # series keeps its history under another key; a new one is booked under a new UID.
            archived = replace(current, spec=replace(current.spec, key=f"{need.key}~{current.sequence}"))
            del bookings[need.key]
            bookings[archived.spec.key] = archived
            placed = [archived if s.spec.key == need.key else s for s in placed]
            yield BookSeries(archived, "ended earlier; a new series replaces it", tag=f"filed:{need.key}")
            current = None
        elif current is not None and current.cancelled:
            continue  # cancelled by hand in the organizer's calendar: the calendar is the truth
        if current is not None and _coach_changed(current, need, now):
            # The old coach's series ends here, history intact; the new coach's starts like a new one.
            archived = _ended(current, now)
            if archived is not None:
                archived = replace(archived, spec=replace(archived.spec, key=f"{need.key}~{ical_utc(now)}"))
                del bookings[need.key]
                bookings[archived.spec.key] = archived
                placed = [archived if s.spec.key == need.key else s for s in placed]
                timelines.book(archived)
                yield BookSeries(archived, f"coach changed to {need.host.person_id}: the series continues "
                                           "with the new coach")
                current = None
        if current is None:
            # Unknown is not free: no invitation for a time that may collide with what we could not read.
            missing = sorted({a.person_id for a in need.everyone()} & unknown.keys())
            if missing:
                for pid in missing:
                    blocked.setdefault(pid, []).append(need.key)
                continue
            result = series_mod.place(cfg, need, timelines, placed, now)
            if isinstance(result, series_mod.Unplaced):
                yield f"{result.key}: {result.reason}"
                continue
            placed.append(result)
            yield BookSeries(result, "new series")
            continue
        reason = None
        joining = sorted(({a.person_id for a in need.everyone()} - {a.person_id for a in current.spec.everyone()})
                         & unknown.keys())
        for pid in joining:  # the change waits until the newcomer's busy times are known
            blocked.setdefault(pid, []).append(need.key)
        if (_people_changed(current, need) and need.key not in waiting and not joining
                and any(o.end > now for o in current.occurrences())):
            current = current.bumped(spec=_with_people(current.spec, need))
            timelines.book(current)
            reason = "attendees changed in the config"
        kept_off = keep_off_blackouts(current, timelines, rules, cfg.scheduling.make_up_blackouts)
        if kept_off is not None:
            current = kept_off if reason is not None else kept_off.bumped()
            timelines.book(current)
            reason = ", ".join(filter(None, (reason, "blackout days changed")))
        people = {a.person_id for a in current.spec.everyone()}
        overrides, found = repair(current, timelines, whole_life if people & rechecked else rules, observed.declines)
        conflicts.extend(found)
        whole = observed.declines.get(current.spec.uid)
        if whole is not None and whole.people & {a.person_id for a in current.spec.everyone()}:
            who = ", ".join(sorted(whole.people))
            conflicts.append(Conflict(need.key, current.spec.uid, current.spec.start, tuple(sorted(whole.people)),
                                      f"{who} declined the whole series in their calendar; coachd moves single "
                                      "occurrences, not a series: this needs a conversation"))
        if overrides is not None:
            moved = len(set(overrides) ^ set(current.overrides))
            current = current.bumped(overrides=overrides) if reason is None else replace(current, overrides=overrides)
            timelines.book(current)
            reason = ", ".join(filter(None, (reason, f"{moved} occurrence(s) moved to fit everyone's hours and calendars")))
        if reason is not None:
            placed = [current if s.spec.key == need.key else s for s in placed]
            yield BookSeries(current, reason)


@dataclass(frozen=True)
class Hold:
    """Cancellations held back because there are too many at once: applied once an admin confirms `id`."""

    id: str
    series: tuple[tuple[str, int], ...]  # (series key, future occurrences it would cancel)

    @property
    def occurrences(self) -> int:
        return sum(count for _, count in self.series)

    def describe(self) -> str:
        listed = ", ".join(f"{key} ({count})" for key, count in self.series)
        return (f"held: {self.occurrences} future occurrences would be cancelled ({listed}); "
                f"confirm with `coachd confirm CONFIG {self.id}` if that is intended")


def _endings(cfg: ProgramConfig, observed: Observed, bookings: dict[str, BookedSeries],
             wanted: dict[str, series_mod.SeriesNeed], now: datetime, held: list[Hold],
             waiting: set[str]) -> Iterator[BookSeries]:
    """End the series the config no longer asks for: the future goes, the past stays in the calendar.

    A pass that would cancel more future occurrences than `scheduling.max_cancellations` (a team
    dropped by a typo), counting those of people taken off series that go on, is held until an
    admin confirms it; the series whose people would change are then left as they are (`waiting`).
    Check-ins ended by a change of the coachee's state are routine and never held.
    """
    by_config: list[tuple[BookSeries, int]] = []
    departures: list[tuple[str, str, int]] = []  # (series key, ids leaving, their future occurrences)
    for key in sorted(bookings):
        booked = bookings[key]
        if booked.cancelled or booked.spec.ended:
            continue
        if key in wanted:
            # People leaving a series that goes on; a hand-over (someone joins as someone leaves) is not
            # a loss of sessions, so only the net departures count.
            staying = {a.person_id for a in wanted[key].everyone()}
            current = {a.person_id for a in booked.spec.everyone()}
            leaving = sorted(current - staying)
            lost = len(leaving) - len(staying - current)
            future = sum(1 for o in booked.occurrences() if o.start >= now and not o.cancelled)
            if lost > 0 and future:
                departures.append((key, ",".join(leaving), future * lost))
            continue
        ended = _ended(booked, now)
        if ended is None:
            continue
        future = sum(1 for o in booked.occurrences() if o.start >= now and not o.cancelled)
        if booked.spec.kind is SessionKind.CHECK_IN:
            yield BookSeries(ended, "check-ins no longer needed at this coachee's state")
        else:
            by_config.append((BookSeries(ended, "no longer in the config"), future))
    total = sum(count for _, count in by_config) + sum(count for *_, count in departures)
    if total > cfg.scheduling.max_cancellations:
        what = sorted([action.series.spec.uid for action, _ in by_config] + [f"{k}-{who}" for k, who, _ in departures])
        hold_id = hashlib.sha256(" ".join(what).encode()).hexdigest()[:10]
        if hold_id not in observed.confirmed:
            held.append(Hold(hold_id, tuple((action.series.spec.key, count) for action, count in by_config)
                             + tuple((f"{key} without {who}", count) for key, who, count in departures)))
            waiting.update(key for key, _, _ in departures)
            return
    for action, _ in by_config:
        yield action


def _ended(booked: BookedSeries, now: datetime) -> BookedSeries | None:
    """The series cut at `now` (None when nothing of it lies ahead); cancelled outright if none of it is past."""
    occurrences = booked.occurrences()
    if not any(o.start >= now and not o.cancelled for o in occurrences):
        return None
    past = [o.recurrence_id for o in occurrences if o.start < now]
    if not past:
        return booked.bumped(cancelled=True, spec=replace(booked.spec, ended=True))
    last = max(past)
    spec = replace(booked.spec, until=last, ended=True)
    return booked.bumped(spec=spec, overrides=tuple(o for o in booked.overrides if o.recurrence_id <= last))


def _with_people(spec: SeriesSpec, need: series_mod.SeriesNeed) -> SeriesSpec:
    """The spec with the config's people; whoever left is remembered, to be told once."""
    staying = {a.person_id for a in need.everyone()}
    former = {a.person_id: a for a in (*spec.former, *spec.everyone()) if a.person_id not in staying}
    return replace(spec, host=need.host, attendees=need.attendees, title=need.title,
                   former=tuple(former[k] for k in sorted(former)))


def _coach_changed(current: BookedSeries, need: series_mod.SeriesNeed, now: datetime) -> bool:
    """A team's coach changed on a recurring team series that has already met: a case for a new series.

    Its times suit the old coach's week and zone, and its past belongs to the old coach; a series
    that has not met yet (or the circle, whose host is only whoever comes first) just changes people.
    """
    spec = current.spec
    return (spec.kind in (SessionKind.GROUP, SessionKind.INDIVIDUAL, SessionKind.CHECK_IN)
            and spec.host.person_id != need.host.person_id
            and any(o.start < now for o in current.occurrences()))


def _people_changed(current: BookedSeries, need: series_mod.SeriesNeed) -> bool:
    """Who attends (and how to reach them) differs; the order they are listed in does not matter."""
    def ids(people: tuple[Attendee, ...]) -> set[tuple[str, str, str]]:
        return {(a.person_id, a.email.lower(), a.timezone) for a in people}
    spec = current.spec
    return (ids(spec.everyone()) != ids(need.everyone()) or spec.host.person_id != need.host.person_id
            or spec.title != need.title)


def _series_mail(cfg: ProgramConfig, observed: Observed, booked: BookedSeries,
                 booked_at: datetime, now: datetime,
                 calendar_invites: bool | Callable[[str], bool] = False) -> Iterator[MailIntent]:
    spec = booked.spec
    program = cfg.program.id
    kind = MailKind.INVITATION if booked.sequence == 0 else MailKind.UPDATE
    if booked.cancelled or spec.ended:
        kind = MailKind.CANCELLATION

    def ours(person: Attendee) -> bool:
        """coachd's iTIP mail is this person's invitation path (the calendar does not invite them)."""
        if callable(calendar_invites):
            return not calendar_invites(person.email.lower())
        return not calendar_invites

    for person in filter(ours, spec.everyone()):
        yield MailIntent(QueueMail(program, kind, person, f"{spec.uid}/seq{booked.sequence}", booked_at,
                                   series_key=spec.key), None)
    # Taken off the series: told once, whatever happens to it later (by the calendar, when it invites them).
    for person in filter(ours, spec.former):
        yield MailIntent(QueueMail(program, MailKind.CANCELLATION, person, f"{spec.uid}/left", booked_at,
                                   series_key=spec.key), None)
    if booked.cancelled:
        return
    # Only occurrences whose mail can be due around now matter; a year of them every tick
    # would make each tick cost the whole program. The first wholly future one is kept
    # so that the plan still says when its mail falls due.
    tail = _mail_tail(cfg)
    for occurrence in booked.occurrences():
        if occurrence.cancelled:
            continue
        if occurrence.end + tail < now:
            if occurrence.end + LATE_NOTES_LAST < now:
                continue
            # Past its other mail, a session's coach may still send the notes the summary went without.
            yield from _late_notes_mail(cfg, observed, booked, occurrence)
            continue
        yield from _session_mail(cfg, observed, booked, occurrence)
        # Nothing ahead of a later session can be due yet.
        if occurrence.start - mail_lead(cfg) > now:
            break


def mail_lead(cfg: ProgramConfig) -> timedelta:
    """The furthest ahead of a session that mail about it (its agenda, a review's pack) can fall due: their
    lead, and up to MAX_SHIFT more to land in the reader's working hours."""
    return max(cfg.mail.agenda.before, REVIEW_PACK_BEFORE) + MAX_SHIFT


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

    def intent(kind: MailKind, person: Attendee, due: datetime, valid_until: datetime | None) -> MailIntent:
        return MailIntent(QueueMail(program, kind, person, sid, due, series_key=spec.key,
                                    occurrence=occurrence), valid_until)

    def before(person: Attendee) -> datetime:
        # Mail ahead of a session lands in the reader's working hours, at the latest agenda.before ahead.
        return in_working_hours(occurrence.start - mail.agenda.before, _reader(cfg, person))

    if spec.kind is SessionKind.CHECK_IN:
        # A check-in is a short call: the coachee gets the check-in note before it, nothing after.
        for person in spec.attendees:
            yield intent(MailKind.CHECK_IN, person, before(person), occurrence.start)
        return
    for person in spec.everyone():
        yield intent(MailKind.AGENDA, person, before(person), occurrence.start)
    notes_due = occurrence.end + mail.notes.after
    yield intent(MailKind.NOTES_REQUEST, spec.host, notes_due, notes_due + STALE_AFTER[MailKind.NOTES_REQUEST])
    notes = observed.replies_to(sid, NOTES_KINDS, spec.host.person_id)
    summary_due = occurrence.end + mail.summary.after
    if notes:
        summary_due = max(notes_due, min(summary_due, notes[0].received_at))
    for person in spec.everyone():
        yield intent(MailKind.SUMMARY, person, summary_due, summary_due + STALE_AFTER[MailKind.SUMMARY])
    yield from _late_notes_mail(cfg, observed, booked, occurrence)
    if spec.kind is SessionKind.SPONSOR_REVIEW:
        yield from review_mail(cfg, booked, occurrence)
    feedback_due = occurrence.end + mail.feedback.after
    if spec.kind is SessionKind.WRAPUP:
        # The wrap-up survey is this session's feedback: what worked, what did not, what each learned.
        # The coach is a participant too, and answers it like the team.
        for person in survey_takers(booked.spec):
            yield intent(MailKind.WRAP_UP, person, feedback_due, feedback_due + STALE_AFTER[MailKind.WRAP_UP])
        return
    for person in feedback_givers(booked.spec):
        yield intent(MailKind.FEEDBACK_REQUEST, person, feedback_due,
                     feedback_due + STALE_AFTER[MailKind.FEEDBACK_REQUEST])
        if not observed.replies_to(sid, FEEDBACK_KINDS, person.person_id):
            remind_due = feedback_due + mail.feedback.remind
            yield intent(MailKind.FEEDBACK_REMINDER, person, remind_due,
                         remind_due + STALE_AFTER[MailKind.FEEDBACK_REMINDER])


def _reader(cfg: ProgramConfig, person: Attendee) -> Availability | None:
    """The reader's working hours and days, from the config (None for someone no longer in it)."""
    if person.person_id not in cfg.people_by_id:
        return None
    return series_mod.availability(cfg, person.person_id)


def updated_summary_ref(session_id: str) -> str:
    """The subject of the summary sent again when the coach's notes came after the first one went out."""
    return f"{session_id}{UPDATED_SUMMARY}"


def first_summary_key(mail: QueueMail) -> str | None:
    """For an updated summary, the key of the summary it follows up (its thread parent); else None."""
    if mail.kind != MailKind.SUMMARY or not mail.subject_ref.endswith(UPDATED_SUMMARY):
        return None
    return replace(mail, subject_ref=mail.subject_ref.removesuffix(UPDATED_SUMMARY)).key


def _late_notes_mail(cfg: ProgramConfig, observed: Observed, booked: BookedSeries,
                     occurrence: Occurrence) -> Iterator[MailIntent]:
    """The summary again, with the coach's conclusions and actions, when their notes came after it went out.

    The summary waits for the notes until `summary.after`; notes first received later than that found
    it gone without them (the daemon queued it at its due time). Sent once (its own key) to whoever got
    the first summary, threaded under it, while the notes are still news: until a week after the series'
    next session (LATE_NOTES_LAST at most). Notes that came in time, or later notes after them, send nothing.
    """
    spec = booked.spec
    sid = occurrence.session_id
    notes = observed.replies_to(sid, NOTES_KINDS, spec.host.person_id)
    if not notes or notes[0].received_at <= occurrence.end + cfg.mail.summary.after:
        return
    payload = notes[-1].payload
    if not payload.get("conclusions") and not payload.get("actions"):
        return  # nothing the first summary lacked
    later = [o.start for o in booked.occurrences() if not o.cancelled and o.start > occurrence.start]
    last = min(later[0] + LATE_NOTES_WINDOW if later else occurrence.end + LATE_NOTES_LAST,
               occurrence.end + LATE_NOTES_LAST)
    received = notes[0].received_at
    if received > last:
        return
    for person in spec.everyone():
        first = QueueMail(cfg.program.id, MailKind.SUMMARY, person, sid, received, series_key=spec.key,
                          occurrence=occurrence)
        if first.key not in observed.queued:
            continue  # they never got the first one (or it is going now, with the notes)
        yield MailIntent(replace(first, subject_ref=updated_summary_ref(sid)),
                         received + STALE_AFTER[MailKind.SUMMARY])


def review_mail(cfg: ProgramConfig, booked: BookedSeries, occurrence: Occurrence) -> Iterator[MailIntent]:
    """The sponsor-review pack: the program's figures since the last review, to everyone in the review."""
    spec = booked.spec
    earlier = [o.start for o in booked.occurrences() if not o.cancelled and o.start < occurrence.start]
    start = max(earlier) if earlier else datetime.combine(cfg.program.starts, time(0), cfg.program.zone)
    zone = cfg.program.zone
    latest = occurrence.start - REVIEW_PACK_BEFORE
    # Read at work, like an agenda: each reader's pack lands in their working hours.
    sends = {person.person_id: in_working_hours(latest, _reader(cfg, person)) for person in spec.everyone()}
    first = min(sends.values(), default=latest)
    # Whole days in the program's zone, from the last review's day up to the day the first pack goes out:
    # what has happened, nothing still to come; the same period for everyone.
    period = (datetime.combine(start.astimezone(zone).date(), time(0), zone).astimezone(UTC),
              datetime.combine(first.astimezone(zone).date(), time(0), zone).astimezone(UTC))
    for person in spec.everyone():
        yield MailIntent(QueueMail(cfg.program.id, MailKind.REVIEW, person, occurrence.session_id,
                                   sends[person.person_id], series_key=spec.key, occurrence=occurrence,
                                   period=period), occurrence.start)


def survey_takers(spec: SeriesSpec) -> tuple[Attendee, ...]:
    """Who gets the wrap-up survey after a wrap-up session: everyone in it, its coach included."""
    return spec.everyone() if spec.kind is SessionKind.WRAPUP else ()


def feedback_givers(spec: SeriesSpec) -> tuple[Attendee, ...]:
    """Who is asked about a session: everyone but its host. Sponsors review, they are not coached; a
    check-in is a short call with nothing asked after it; after a wrap-up the survey asks instead of
    the feedback request (the digest's figures count by this too)."""
    if spec.kind in (SessionKind.SPONSOR_REVIEW, SessionKind.CHECK_IN, SessionKind.WRAPUP):
        return ()
    return tuple(a for a in spec.everyone() if a.person_id != spec.host.person_id)


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
            due = goal_check_in_due(cfg, n, person.zone).astimezone(UTC)
            yield MailIntent(QueueMail(program.id, MailKind.GOAL_CHECK_IN, person, f"goals-{n}", due),
                             due + STALE_AFTER[MailKind.GOAL_CHECK_IN])
        n += 1
    recipients = [series_mod.attendee(cfg, p, Role.SPONSOR) for p in cfg.digest.to]
    periods = digest_periods(cfg)
    for index, span in enumerate(periods):
        following = periods[index + 1] if index + 1 < len(periods) else None
        for person in recipients:
            due = first_morning(span[1], person.zone)
            # A missed digest goes out once when the daemon is back, until the next one is due.
            valid_until = first_morning(following[1], person.zone) if following else due + (span[1] - span[0])
            yield MailIntent(QueueMail(program.id, MailKind.DIGEST, person, f"digest-{ical_utc(span[0])}", due,
                                       period=span), valid_until)
    # The final report waits a week after the program's last day, so the wrap-up surveys are in; it
    # covers the whole program, as the digests do between them.
    if periods:
        whole = (periods[0][0], periods[-1][1])
        for person in recipients:
            due = first_morning(whole[1] + WRAP_UP_REPORT_AFTER - timedelta(days=1), person.zone)
            yield MailIntent(QueueMail(program.id, MailKind.WRAP_UP, person, "wrap-up-report", due, period=whole),
                             due + STALE_AFTER[MailKind.WRAP_UP])


def goal_check_in_due(cfg: ProgramConfig, n: int, zone: ZoneInfo) -> datetime:
    """When the n-th goal check-in goes to a coachee working in `zone`: 09:00 their time."""
    return datetime.combine(cfg.program.starts + cfg.mail.goals.every * n, time(9), zone)


def first_morning(instant: datetime, zone: ZoneInfo) -> datetime:
    """08:00 in `zone` on the first day it falls at or after `instant`: a digest never arrives before
    its period has ended where the program runs, however far east its reader is."""
    local = instant.astimezone(zone)
    morning = datetime.combine(local.date(), time(8), zone)
    if morning < local:
        morning = datetime.combine(local.date() + timedelta(days=1), time(8), zone)
    return morning.astimezone(UTC)
