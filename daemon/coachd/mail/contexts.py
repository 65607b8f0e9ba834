"""The data each email's template gets, built from the config and what was observed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from coachd.reporting import charts

from coachd.config import ProgramConfig
from coachd.model.actions import QueueMail
from coachd.model.agenda import (CONTRACTS, DEFAULT_QUESTIONS, FEEDBACK_QUESTIONS, focus_for, looks_back,
                                 questions_for)
from coachd.model.mail_kinds import AGENDA_KINDS, FEEDBACK_KINDS, ITIP_KINDS, NOTES_KINDS, SPONSOR_KINDS, MailKind
from coachd.model.observed import Observed, ReplyFact
from coachd.model.types import BookedSeries, Occurrence, SessionKind
from coachd.model import periods as periods_mod
from coachd.reporting.survey import WRAP_UP_QUESTIONS, survey_summary
from coachd.reporting.figures import program_figures
from coachd.plan.planner import feedback_givers, first_summary_key

# A session in the program's last weeks with nothing booked after it closes the program for its attendees.
LAST_WEEKS = timedelta(weeks=2)



def base_context(cfg: ProgramConfig) -> dict[str, Any]:
    program = cfg.program
    return {
        "program": {"id": program.id, "name": program.name, "timezone": program.timezone,
                    "outcomes": program.outcome_texts},
        "organizer": {"name": cfg.organizer.name, "email": str(cfg.organizer.email)},
    }


def _team_name(cfg: ProgramConfig, team_id: str | None) -> str | None:
    """The team's name; a team dropped from the config (its series held or ending) keeps its id."""
    if team_id is None:
        return None
    try:
        return cfg.team(team_id).name
    except KeyError:
        return team_id


def session_dict(cfg: ProgramConfig, series: BookedSeries, occurrence: Occurrence) -> dict[str, Any]:
    spec = series.spec
    return {
        "id": occurrence.session_id, "kind": spec.kind.value, "title": spec.title,
        "start": occurrence.start, "end": occurrence.end, "length": occurrence.end - occurrence.start,
        "team_name": _team_name(cfg, spec.team_id), "host": spec.host, "attendees": list(spec.everyone()), "series_uid": spec.uid,
    }


def series_dict(series: BookedSeries) -> dict[str, Any]:
    spec = series.spec
    return {"title": spec.title, "kind": spec.kind.value, "cadence_weeks": spec.interval_weeks,
            "first_start": spec.start, "until": spec.until, "length": spec.length,
            "attendees": list(spec.everyone())}


def build(cfg: ProgramConfig, observed: Observed, mail: QueueMail, now: datetime) -> dict[str, Any]:
    """The template context for `mail`; one-to-one content only ever comes from that one-to-one."""
    context = base_context(cfg) | {"recipient": mail.recipient}
    person = cfg.people_by_id.get(mail.recipient.person_id)
    if person is not None and person.greeting:
        context["greeting"] = person.greeting
    booking = observed.bookings.get(mail.series_key) if mail.series_key else None
    if mail.kind in ITIP_KINDS and booking:
        occurrences = booking.series.occurrences()
        first = occurrences[0] if occurrences else None
        context["series"] = series_dict(booking.series)
        if first:
            context["session"] = session_dict(cfg, booking.series, first)
        if mail.kind == MailKind.CANCELLATION:
            context["reason"] = _cancellation_reason(booking.series, mail)
        return context
    if mail.kind in SPONSOR_KINDS and mail.period is not None:
        return context | sponsor_view(cfg, observed, mail.kind, mail.period, now)
    if mail.kind == MailKind.WRAP_UP and mail.occurrence is not None and booking is not None:
        # The survey after a team's wrap-up session; its answers feed the final report, never verbatim.
        return context | {"survey": True, "session": session_dict(cfg, booking.series, mail.occurrence),
                          "questions": list(WRAP_UP_QUESTIONS)}
    if mail.kind == MailKind.CHECK_IN and booking is not None and mail.occurrence is not None:
        # Sent before a check-in call: the note that fits the coachee's state, and when the call is.
        return context | {"state": observed.states.get(mail.recipient.person_id, "steady"),
                          "coach": booking.series.spec.host, "next_check_in": mail.occurrence.start}
    if mail.occurrence is not None and booking is not None:
        return context | _session_context(cfg, observed, booking.series, mail)
    if mail.kind == MailKind.GOAL_CHECK_IN:
        return context | {"period_label": _period_label(mail.due.date()), "goals": cfg.program.outcome_texts,
                          "questions": ["Where do you stand against each goal?",
                                        "What is your plan for the next four weeks?",
                                        "What support do you need?",
                                        GOAL_RATING_QUESTION]}
    raise ValueError(f"no context for {mail.kind} ({mail.key})")


# Read by the inbox as the coachee's self-assessment; sponsors see its average over 3 people or more.
GOAL_RATING_QUESTION = ("Overall, from 1 (off track) to 5 (on track), where do you stand? "
                        "Put the number on a line of its own.")
# What a trend compares with, in the words of each kind (the final report has nothing before it).
COMPARED_WITH = {MailKind.DIGEST: "the last digest", MailKind.REVIEW: "the quarter before",
                 MailKind.WRAP_UP: "the period before"}


def sponsor_view(cfg: ProgramConfig, observed: Observed, kind: str, period: tuple[datetime, datetime],
                 now: datetime) -> dict[str, Any]:
    """The figures of a digest, review pack or final report, with its charts and next steps."""
    spans = periods_mod.digest_periods(cfg)
    figures = program_figures(cfg, observed, period[0], period[1], now,
                              previous=periods_mod.previous_period(spans, period))
    coming = periods_mod.next_end(spans, period[1]) if kind == MailKind.DIGEST else None
    figures["next_digest"] = coming.astimezone(cfg.program.zone).date() if coming else None
    figures["compared_with"] = COMPARED_WITH[kind]
    figures["charts"] = charts.trend_charts(figures["history"])
    figures["survey"] = False
    if kind == MailKind.WRAP_UP:
        figures["wrap_up"] = survey_summary(cfg, observed, now)
    if kind in (MailKind.REVIEW, MailKind.WRAP_UP):
        figures["next_steps"] = next_steps(figures)
    return figures


def next_steps(figures: Mapping[str, Any]) -> list[str]:
    """What the figures ask of the review, in plain words; no one's private content."""
    steps = []
    behind = [row["coachee"] for row in figures["consistency"]["rows"] if row["behind"]]
    if behind:
        steps.append(f"Get one-to-ones back on cadence for {len(behind)} coachee(s) past "
                     f"{figures['consistency']['cadence_days']} days.")
    if figures["actions"]["overdue"]:
        steps.append(f"Follow up the {figures['actions']['overdue']} overdue action item(s) with the coaches.")
    low = [t["name"] for t in figures["teams"] if t["attendance_rate"] is not None and t["attendance_rate"] < 0.8]
    if low:
        steps.append(f"Look at attendance below 80% in {', '.join(low)}.")
    rate = figures["feedback"]["response_rate"]
    if rate is not None and rate < 0.5:
        steps.append("Fewer than half the feedback requests were answered: ask the coaches to keep the last "
                     "two minutes of each session for it.")
    unmeasured = [o["text"] for o in figures["outcomes"] if o["target"] is not None and o["latest"] is None]
    if unmeasured:
        steps.append(f"Measure {len(unmeasured)} agreed outcome(s) not measured yet.")
    below = [r["coach"] for r in figures["coaching"]["rows"] if r["on_target"] is False]
    if below:
        steps.append(f"Free time for coaching: {', '.join(below)} below the target share.")
    return steps


def _cancellation_reason(series: BookedSeries, mail: QueueMail) -> str:
    if mail.subject_ref.endswith("/left"):
        return "you are no longer on this series"
    if "~" in series.spec.key:
        return "it continues with a new coach, who will send you a new invitation"
    return "it is no longer part of the program"


def _topics(cfg: ProgramConfig, reply: ReplyFact) -> list[dict[str, str]]:
    """The topics one person sent back on an agenda: as the reply parser split them, else the whole text."""
    person = cfg.people_by_id.get(reply.person_id)
    name = person.name if person else reply.person_id
    found = [str(t) for t in reply.payload.get("topics", ()) or ()]  # type: ignore[union-attr]
    texts = found or [str(reply.payload.get("text", ""))]
    return [{"text": " ".join(text.split())[:300], "from_name": name} for text in texts if text.strip()]


def _period_label(day: date) -> str:
    return day.strftime("%B %Y")


def _session_context(cfg: ProgramConfig, observed: Observed, series: BookedSeries, mail: QueueMail) -> dict[str, Any]:
    """What an agenda, summary or feedback request says about its session, true when it is rendered
    (`mail.due`): what came before for this recipient, what follows, and in which order."""
    occurrence, kind, recipient = mail.occurrence, mail.kind, mail.recipient
    assert occurrence is not None
    occurrences = [o for o in series.occurrences() if not o.cancelled]
    index = next((i for i, o in enumerate(occurrences) if o.recurrence_id == occurrence.recurrence_id), 0)
    previous = occurrences[index - 1] if index > 0 else None
    context: dict[str, Any] = {"session": session_dict(cfg, series, occurrence)}
    host = series.spec.host.person_id
    if kind == MailKind.AGENDA:
        purpose, reason, importance = CONTRACTS[series.spec.kind]
        open_actions = []
        topics: list[dict[str, str]] = []
        if previous is not None:
            notes = observed.replies_to(previous.session_id, NOTES_KINDS, host)
            if notes:
                open_actions = list(notes[-1].payload.get("actions", []))
            # What people sent back on the last agenda is on this one.
            topics = [topic for reply in observed.replies_to(previous.session_id, AGENDA_KINDS)
                      if reply.person_id != host for topic in _topics(cfg, reply)]
        bank = tuple(cfg.mail.agenda.questions) or DEFAULT_QUESTIONS
        if _sessions_of(observed, recipient.person_id, before=occurrence.start) == []:
            # Nothing was committed before the recipient's first session: ask nothing about "last time".
            bank = tuple(q for q in bank if not looks_back(q)) or bank
        context |= {
            "purpose": purpose, "reason": reason, "importance": importance,
            "goals": cfg.program.outcome_texts, "open_actions": [_action(a) for a in open_actions],
            "topics": topics, "questions": questions_for(index, bank), "focus": focus_for(index),
            "asks_for_topics": series.spec.kind is SessionKind.GROUP,
            "previous_session": session_dict(cfg, series, previous) if previous else None,
            "afterwards": _afterwards(cfg, series, mail),
        }
    elif kind == MailKind.SUMMARY:
        notes = observed.replies_to(occurrence.session_id, NOTES_KINDS, host)
        payload = notes[-1].payload if notes else {}
        following = _next_session(observed, series, occurrence, recipient.person_id)
        updated = first_summary_key(mail) is not None
        context |= {
            "conclusions": list(payload.get("conclusions", [])),
            "actions": [_action(a) for a in payload.get("actions", [])],
            "next_session": session_dict(cfg, *following) if following else None,
            # Nothing more booked for them and the program over by then: no invitation is coming.
            "last_session": following is None and occurrence.end >= _last_weeks(cfg),
            # The first summary said it already; the update brings the notes, nothing else to ask.
            "feedback_hint": None if updated else _feedback_hint(cfg, observed, series, mail),
            # Sent again because the coach's notes came after the first summary went out without them.
            "updated": updated,
        }
    elif kind in FEEDBACK_KINDS:
        context |= {"questions": list(FEEDBACK_QUESTIONS)}
    return context


def _sessions_of(observed: Observed, person_id: str, *, before: datetime | None = None,
                 after: datetime | None = None) -> list[tuple[BookedSeries, Occurrence]]:
    """The sessions `person_id` is in, across every booked series, between `after` and `before`, by start."""
    found = [(booking.series, o) for booking in observed.bookings.values()
             if any(a.person_id == person_id for a in booking.series.spec.everyone())
             for o in booking.series.occurrences()
             if not o.cancelled and (before is None or o.start < before) and (after is None or o.start >= after)]
    return sorted(found, key=lambda pair: pair[1].start)


def _next_session(observed: Observed, series: BookedSeries, occurrence: Occurrence,
                  person_id: str) -> tuple[BookedSeries, Occurrence] | None:
    """The session after this one: the series' own next occurrence, else (after a kickoff, or the last of a
    series) the recipient's next session in any series."""
    later = [o for o in series.occurrences() if not o.cancelled and o.start > occurrence.start]
    if later:
        return series, later[0]
    others = _sessions_of(observed, person_id, after=occurrence.end)
    return others[0] if others else None


def _last_weeks(cfg: ProgramConfig) -> datetime:
    """From here on a session with nothing after it is the end of the program, not a gap in the booking."""
    return periods_mod.program_end(cfg) - LAST_WEEKS


def _afterwards(cfg: ProgramConfig, series: BookedSeries, mail: QueueMail) -> str:
    """What the recipient gets after the session, in the order it will go out where that is known."""
    summary = "a summary with conclusions, actions and the next session"
    if series.spec.kind is SessionKind.WRAPUP:
        asked = "a short survey on the whole program"
    elif mail.recipient in feedback_givers(series.spec):
        asked = "a short feedback request"
    else:
        return "A summary with conclusions, actions and the next session will follow."
    timing = cfg.mail
    # The summary goes when the coach's notes come in, never before they are asked for
    # (notes.after) and at the latest at summary.after: between the two, the order is not known yet.
    if timing.feedback.after < timing.notes.after:
        return f"{asked[0].upper()}{asked[1:]}, then {summary}, will follow."
    if timing.summary.after <= timing.feedback.after:
        return f"{summary[0].upper()}{summary[1:]}, then {asked}, will follow."
    return f"{summary[0].upper()}{summary[1:]} and {asked} will follow."


def _feedback_hint(cfg: ProgramConfig, observed: Observed, series: BookedSeries, mail: QueueMail) -> str | None:
    """What the summary says of the feedback request, in the order the two really go out."""
    occurrence = mail.occurrence
    assert occurrence is not None
    if mail.recipient not in feedback_givers(series.spec):
        return None
    if observed.replies_to(occurrence.session_id, FEEDBACK_KINDS, mail.recipient.person_id):
        return "Thank you for your feedback on this session."
    if occurrence.end + cfg.mail.feedback.after > mail.due:
        return "A short feedback request follows: a rating and two lines are enough."
    return "If you have not answered the feedback request yet, a reply with a rating and two lines is enough."


def _action(item: Any) -> dict[str, Any]:
    due = item.get("due")
    return {"text": item.get("text", ""), "owner": item.get("owner", ""),
            "due": date.fromisoformat(due) if isinstance(due, str) and due else None}


