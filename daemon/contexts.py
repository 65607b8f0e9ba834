"""The data each email's template gets, built from the config and what was observed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from daemon.config import ProgramConfig
from daemon.core.actions import QueueMail
from daemon.core.agenda import CONTRACTS, DEFAULT_QUESTIONS, FEEDBACK_QUESTIONS, focus_for, questions_for
from daemon.core.observed import Observed, ReplyFact
from daemon.core.planner import FEEDBACK_KINDS, NOTES_KINDS
from daemon.core.types import BookedSeries, Occurrence, SessionKind
from daemon.metrics import digest_figures



def base_context(cfg: ProgramConfig) -> dict[str, Any]:
    program = cfg.program
    return {
        "program": {"id": program.id, "name": program.name, "timezone": program.timezone,
                    "outcomes": list(program.outcomes)},
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
    booking = observed.bookings.get(mail.series_key) if mail.series_key else None
    if mail.kind in ("invitation", "update", "cancellation") and booking:
        occurrences = booking.series.occurrences()
        first = occurrences[0] if occurrences else None
        context["series"] = series_dict(booking.series)
        if first:
            context["session"] = session_dict(cfg, booking.series, first)
        if mail.kind == "cancellation":
            context["reason"] = _cancellation_reason(booking.series, mail)
        return context
    if mail.kind == "check-in" and booking is not None and mail.occurrence is not None:
        # Sent before a check-in call: the note that fits the coachee's state, and when the call is.
        return context | {"state": observed.states.get(mail.recipient.person_id, "steady"),
                          "coach": booking.series.spec.host, "next_check_in": mail.occurrence.start}
    if mail.occurrence is not None and booking is not None:
        return context | _session_context(cfg, observed, booking.series, mail.occurrence, mail.kind)
    if mail.kind == "goal-check-in":
        return context | {"period_label": _period_label(mail.due.date()), "goals": list(cfg.program.outcomes),
                          "questions": ["Where do you stand against each goal?",
                                        "What is your plan for the next four weeks?",
                                        "What support do you need?"]}
    if mail.kind == "digest" and mail.period is not None:
        return context | digest_figures(cfg, observed, mail.period[0], mail.period[1], now)
    raise ValueError(f"no context for {mail.kind} ({mail.key})")


def _cancellation_reason(series: BookedSeries, mail: QueueMail) -> str:
    if mail.subject_ref.endswith("/left"):
        return "you are no longer on this series"
    if "~" in series.spec.key:
        return "it continues with a new coach, who will send you a new invitation"
    return "it is no longer part of the program"


AGENDA_KINDS = frozenset({"agenda"})


def _topics(cfg: ProgramConfig, reply: ReplyFact) -> list[dict[str, str]]:
    """The topics one person sent back on an agenda: as the reply parser split them, else the whole text."""
    person = cfg.people_by_id.get(reply.person_id)
    name = person.name if person else reply.person_id
    found = [str(t) for t in reply.payload.get("topics", ()) or ()]  # type: ignore[union-attr]
    texts = found or [str(reply.payload.get("text", ""))]
    return [{"text": " ".join(text.split())[:300], "from_name": name} for text in texts if text.strip()]


def _period_label(day: date) -> str:
    return day.strftime("%B %Y")


def _session_context(cfg: ProgramConfig, observed: Observed, series: BookedSeries, occurrence: Occurrence,
                     kind: str) -> dict[str, Any]:
    occurrences = [o for o in series.occurrences() if not o.cancelled]
    index = next((i for i, o in enumerate(occurrences) if o.recurrence_id == occurrence.recurrence_id), 0)
    previous = occurrences[index - 1] if index > 0 else None
    following = occurrences[index + 1] if index + 1 < len(occurrences) else None
    context: dict[str, Any] = {"session": session_dict(cfg, series, occurrence)}
    host = series.spec.host.person_id
    if kind == "agenda":
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
        context |= {
            "purpose": purpose, "reason": reason, "importance": importance,
            "goals": list(cfg.program.outcomes), "open_actions": [_action(a) for a in open_actions],
            "topics": topics, "questions": questions_for(index, bank), "focus": focus_for(index),
            "asks_for_topics": series.spec.kind is SessionKind.GROUP,
            "previous_session": session_dict(cfg, series, previous) if previous else None,
        }
    elif kind == "summary":
        notes = observed.replies_to(occurrence.session_id, NOTES_KINDS, host)
        payload = notes[-1].payload if notes else {}
        context |= {
            "conclusions": list(payload.get("conclusions", [])),
            "actions": [_action(a) for a in payload.get("actions", [])],
            "next_session": session_dict(cfg, series, following) if following else None,
            "feedback_hint": "A short feedback request follows: a rating and two lines are enough.",
        }
    elif kind in FEEDBACK_KINDS:
        context |= {"questions": list(FEEDBACK_QUESTIONS)}
    return context


def _action(item: Any) -> dict[str, Any]:
    due = item.get("due")
    return {"text": item.get("text", ""), "owner": item.get("owner", ""),
            "due": date.fromisoformat(due) if isinstance(due, str) and due else None}


